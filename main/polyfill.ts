// Entry points import this first; the polyfill itself ships inside the protocol library (taleus/bootstrap).
import './bootstrap/polyfill.ts'
