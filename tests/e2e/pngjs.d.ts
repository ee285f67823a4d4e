/** The part of pngjs 5 the UI tests use (the package ships no types). */
declare module 'pngjs' {
  export const PNG: {
    sync: { read(buffer: Buffer): { width: number; height: number; data: Buffer } }
  }
}
