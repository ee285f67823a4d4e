// Lets `node --import ./bench/register.js` run the project's TypeScript sources directly (Node 20 has
// no type stripping): see ts-loader.js.
import { register } from 'node:module'

register('./ts-loader.js', import.meta.url)
