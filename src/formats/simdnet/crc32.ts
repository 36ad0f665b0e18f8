// The model file's checksum (src/io/crc32.ts), where the format's readers look for it.
export { crc32 } from '../../io/crc32.js';
