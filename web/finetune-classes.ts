// The fine-tune page's images: decoding (createImageBitmap, no colour conversion, no premultiplied alpha,
// read back at full size so the resize is the page's own pure code), the class cards (name, drop zone, file
// picker, camera snapshot, thumbnails) and the camera itself.
import type { Rgba } from './finetune-images.js';

/** One image of a class: its file, and what was computed from it (cached per input size / preprocessing). */
export interface Sample {
  blob: Blob;
  rgb?: { key: string; value: Float64Array };
  feat?: { key: string; value: Float32Array };
}

export interface ClassEntry {
  card: HTMLElement;
  nameInput: HTMLInputElement;
  samples: Sample[];
}

/** Decodes an image file to RGBA bytes at its own size; the error names the file. */
export async function decodeImage(blob: Blob, name = (blob as File).name ?? 'image'): Promise<Rgba> {
  let bmp: ImageBitmap;
  try {
    bmp = await createImageBitmap(blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  } catch {
    throw new Error(`${name} is not an image the browser can decode (${blob.type || 'unknown type'})`);
  }
  const c = new OffscreenCanvas(bmp.width, bmp.height);
  const g = c.getContext('2d', { willReadFrequently: true })!;
  g.drawImage(bmp, 0, 0);
  const d = g.getImageData(0, 0, bmp.width, bmp.height);
  bmp.close();
  return { data: d.data, width: d.width, height: d.height };
}

/** A small preview of a decoded image (display only: the canvas scales it however it likes). */
export function thumbnail(img: Rgba, side = 48): HTMLCanvasElement {
  const src = new OffscreenCanvas(img.width, img.height);
  const px = img.data instanceof Uint8ClampedArray ? img.data : new Uint8ClampedArray(img.data);
  src.getContext('2d')!.putImageData(new ImageData(px as Uint8ClampedArray<ArrayBuffer>, img.width, img.height), 0, 0);
  const c = document.createElement('canvas');
  const s = Math.min(side / img.width, side / img.height);
  c.width = Math.max(1, Math.round(img.width * s));
  c.height = Math.max(1, Math.round(img.height * s));
  c.getContext('2d')!.drawImage(src, 0, 0, c.width, c.height);
  return c;
}

/** The camera: shown only when the browser lists a video input; snapshots are PNG files of a frame. */
export class Camera {
  private stream: MediaStream | null = null;
  constructor(
    private readonly box: HTMLElement,
    private readonly video: HTMLVideoElement,
    private readonly toggle: HTMLButtonElement,
    private readonly onChange: (live: boolean) => void,
  ) {
    toggle.addEventListener('click', () => (this.stream ? this.stop() : this.start()));
  }

  /** Shows the camera controls when there is a camera; returns whether there is. */
  async detect(): Promise<boolean> {
    const md = navigator.mediaDevices;
    if (!md?.getUserMedia || !md.enumerateDevices) return false;
    const devices = await md.enumerateDevices().catch(() => []);
    const has = devices.some((d) => d.kind === 'videoinput');
    this.box.hidden = !has;
    return has;
  }

  get live(): boolean {
    return this.stream !== null;
  }

  private async start(): Promise<void> {
    this.stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' }, audio: false });
    this.video.srcObject = this.stream;
    await this.video.play();
    this.toggle.textContent = 'Stop the camera';
    this.onChange(true);
  }

  stop(): void {
    for (const t of this.stream?.getTracks() ?? []) t.stop();
    this.stream = null;
    this.video.srcObject = null;
    this.toggle.textContent = 'Start the camera';
    this.onChange(false);
  }

  /** The current frame as a PNG file (lossless: the page decodes it like any dropped image). */
  async snapshot(name: string): Promise<File> {
    const w = this.video.videoWidth,
      h = this.video.videoHeight;
    if (!this.stream || !w || !h) throw new Error('the camera is not running');
    const c = new OffscreenCanvas(w, h);
    c.getContext('2d')!.drawImage(this.video, 0, 0);
    const blob = await c.convertToBlob({ type: 'image/png' });
    return new File([blob], `${name}.png`, { type: 'image/png' });
  }
}

/** Files from a drop event or a file input: images only. */
export function imageFiles(list: FileList | null | undefined): File[] {
  return Array.from(list ?? []).filter((f) => f.type === '' || f.type.startsWith('image/'));
}

/** Makes a drop zone of `el`: highlighted while dragged over, `onFiles` with the dropped files. */
export function dropZone(el: HTMLElement, onFiles: (files: FileList) => void): void {
  el.addEventListener('dragover', (e) => {
    e.preventDefault();
    el.classList.add('over');
  });
  el.addEventListener('dragleave', () => el.classList.remove('over'));
  el.addEventListener('drop', (e) => {
    e.preventDefault();
    el.classList.remove('over');
    if (e.dataTransfer?.files.length) onFiles(e.dataTransfer.files);
  });
}

export interface CardHooks {
  /** Files picked or dropped on the card. */
  add(entry: ClassEntry, files: File[]): void;
  snap(entry: ClassEntry): void;
  remove(entry: ClassEntry): void;
}

/** A class card: name field, remove button, drop zone with a picker and a snapshot button, thumbnails. */
export function classCard(name: string, hooks: CardHooks): ClassEntry {
  const card = document.createElement('section');
  card.className = 'class-card';
  card.innerHTML = `<header><input class="class-name" type="text" aria-label="class name">
    <button class="remove" type="button" title="remove this class">Remove</button></header>
    <div class="drop class-drop"><p>Drop images here or <label class="pick">pick…
      <input class="class-files" type="file" accept="image/*" multiple></label>
      <button class="snap" type="button" hidden>Snapshot</button></p>
      <p class="count muted">no images yet</p><div class="thumbs"></div></div>`;
  const q = <T extends HTMLElement>(sel: string) => card.querySelector(sel) as T;
  const entry: ClassEntry = { card, nameInput: q<HTMLInputElement>('.class-name'), samples: [] };
  entry.nameInput.value = name;
  card.dataset.count = '0';
  q('.remove').addEventListener('click', () => hooks.remove(entry));
  q('.snap').addEventListener('click', () => hooks.snap(entry));
  const input = q<HTMLInputElement>('.class-files');
  input.addEventListener('change', () => {
    hooks.add(entry, imageFiles(input.files));
    input.value = '';
  });
  dropZone(q('.class-drop'), (files) => hooks.add(entry, imageFiles(files)));
  return entry;
}

/** Adds a decoded image's thumbnail to its card and updates the count. */
export function showSample(entry: ClassEntry, img: Rgba, title: string): void {
  const thumbs = entry.card.querySelector('.thumbs')!;
  const c = thumbnail(img);
  c.title = title;
  thumbs.append(c);
  const n = entry.samples.length;
  entry.card.dataset.count = String(n);
  entry.card.querySelector('.count')!.textContent = `${n} image${n === 1 ? '' : 's'}`;
}
