// Messages between the training page (train.ts) and its worker (train-worker.ts).

export type Arch = 'seed' | 'small';

export interface TrainConfig {
  arch: Arch;
  trainLimit: number;
  testLimit: number;
  epochs: number;
  batchSize: number;
  lr: number;
  seed: number;
}

export type ToWorker = { type: 'start'; config: TrainConfig } | { type: 'stop' } | { type: 'save' };

export type FromWorker =
  | { type: 'engine'; build: string; threads: number; isolated: boolean }
  | { type: 'log'; text: string }
  | { type: 'data'; train: number; test: number }
  | { type: 'begin'; params: number; steps: number; epochs: number }
  | {
      type: 'batch';
      epoch: number;
      batch: number;
      steps: number;
      loss: number;
      accuracy: number;
      batchLoss: number;
      examplesPerSecond: number;
    }
  | { type: 'epoch'; epoch: number; loss: number; accuracy: number; valLoss?: number; valAccuracy?: number }
  | { type: 'done'; stopped: boolean; seconds: number }
  | { type: 'model'; bytes: ArrayBuffer; name: string }
  | { type: 'error'; message: string };
