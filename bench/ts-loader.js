// Module load hook: our own .ts files are transpiled (types erased, no type check) with the project's
// TypeScript compiler; everything else loads as usual. Only for benchmark child processes.
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

const COMPILER_OPTIONS = {
  module: ts.ModuleKind.ESNext,
  target: ts.ScriptTarget.ES2022,
  verbatimModuleSyntax: true,
  useDefineForClassFields: true,
  inlineSourceMap: true
}

/** Node load hook. */
export async function load(url, context, nextLoad) {
  if (url.startsWith('file:') && url.endsWith('.ts') && !url.includes('/node_modules/')) {
    const fileName = fileURLToPath(url)
    const source = await readFile(fileName, 'utf8')
    const { outputText } = ts.transpileModule(source, { fileName, compilerOptions: COMPILER_OPTIONS })
    return { format: 'module', source: outputText, shortCircuit: true }
  }
  return nextLoad(url, context)
}
