/// <reference types="svelte" />
/// <reference types="vite/client" />
import type { TaleusApi } from '../../preload/contract.ts'

declare global {
  interface Window {
    /** Present in Electron (preload); absent in the browser console. */
    taleus?: TaleusApi
  }
}
