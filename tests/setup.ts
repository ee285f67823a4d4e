// libp2p 3 needs Promise.withResolvers (Node 22); load the polyfill before anything else.
import '../main/polyfill.ts'
