// Window geometry of one image of a 2-D convolution or pooling, passed to kernels as one struct in
// memory instead of a dozen positional integers. This class is the single source of the field order:
// scripts/build-wasm.mjs reads it to generate the TypeScript type and its writer (src/wasm/abi.ts),
// and ops fill it in one place (withGeometry in src/ops/util.ts). The batch count N is not part of
// it: a task's slice of the batch varies from shard to shard, the geometry does not.
// Every field is an i32 (element counts), 4 bytes each, in declaration order.

@unmanaged
export class Geometry2d {
  H: i32; // input height
  W: i32; // input width
  C: i32; // input channels
  K: i32; // output channels (pooling: C)
  KH: i32; // window height
  KW: i32; // window width
  SH: i32; // stride along H
  SW: i32; // stride along W
  PT: i32; // padding at the top
  PL: i32; // padding at the left
  OH: i32; // output height
  OW: i32; // output width
  DH: i32; // dilation along H (1: taps are neighbours; pooling: 1)
  DW: i32; // dilation along W
  G: i32; // groups: C and K split into G independent convolutions (pooling: 1)
}

// The struct at byte address `ptr` (written by TypeScript; kernels only read it).
// @ts-ignore: decorator
@inline export function geometry(ptr: usize): Geometry2d {
  return changetype<Geometry2d>(ptr);
}

// Size of the struct in bytes, so the TypeScript side can check its generated layout against this one.
export function geometry2d_bytes(): usize {
  return offsetof<Geometry2d>();
}
