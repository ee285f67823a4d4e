/**
 * A static scan of the main-process and preload sources for Electron APIs and settings that weaken the
 * app: it reads the TypeScript syntax tree (comments and look-alike text do not count), so a call such as
 * `shell.openExternal(url)` in any file under main/ or preload/ is found, not only in main/electron.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative, sep } from 'node:path'
import ts from 'typescript'

/** One finding: file (relative, with `/`), line, and what was found. */
export interface ScanFinding {
  file: string
  line: number
  what: string
}

/** Members no main-process or preload code may touch (open outside the sandbox, run code, trust certificates). */
const FORBIDDEN_MEMBERS = new Set([
  'openExternal',
  'openPath',
  'showItemInFolder',
  'executeJavaScript',
  'executeJavaScriptInIsolatedWorld',
  'setCertificateVerifyProc',
  'appendSwitch',
  'appendArgument',
  'enableBlinkFeatures',
  'allowpopups',
  'setBypassCSP',
  'registerSchemesAsPrivileged'
])

/** Names never imported from an Electron module. */
const FORBIDDEN_IMPORTS = new Set(['shell', 'remote'])

/** Modules never imported. */
const FORBIDDEN_MODULES = new Set(['@electron/remote'])

/** Strings that name an insecure switch, event or setting. */
const FORBIDDEN_STRINGS = new Set([
  'certificate-error',
  'select-client-certificate',
  'disable-web-security',
  'ignore-certificate-errors',
  'allow-running-insecure-content',
  'no-sandbox',
  'ELECTRON_DISABLE_SECURITY_WARNINGS'
])

/** Members that install or bypass a guard: allowed only in the file that holds the hardening. */
const RESTRICTED_MEMBERS = new Map<string, string>(
  Object.entries({
    setPermissionRequestHandler: 'main/electron/security.ts',
    setPermissionCheckHandler: 'main/electron/security.ts',
    setDevicePermissionHandler: 'main/electron/security.ts',
    setDisplayMediaRequestHandler: 'main/electron/security.ts',
    setWindowOpenHandler: 'main/electron/security.ts',
    onHeadersReceived: 'main/electron/security.ts',
    loadURL: 'main/electron/window.ts',
    loadFile: 'main/electron/window.ts'
  })
)

/** Constructors of renderers: only the one window factory creates any. */
const RESTRICTED_CONSTRUCTORS = new Map<string, string>(
  Object.entries({
    BrowserWindow: 'main/electron/window.ts',
    BrowserView: 'main/electron/window.ts',
    WebContentsView: 'main/electron/window.ts'
  })
)

/** webPreferences keys and the only literal each may be given, wherever it is written. */
const SAFE_SETTINGS = new Map<string, boolean>(
  Object.entries({
    contextIsolation: true,
    sandbox: true,
    nodeIntegration: false,
    nodeIntegrationInWorker: false,
    nodeIntegrationInSubFrames: false,
    webSecurity: true,
    allowRunningInsecureContent: false,
    experimentalFeatures: false,
    webviewTag: false,
    enableRemoteModule: false
  })
)

function nameOf(node: ts.PropertyName | ts.MemberName): string | undefined {
  if (ts.isIdentifier(node) || ts.isPrivateIdentifier(node)) return node.text
  if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) return node.text
  return undefined
}

function isElectronModule(spec: string): boolean {
  return spec === 'electron' || spec.startsWith('electron/')
}

/** Findings in one source text; `file` is its path relative to the repository, with `/`. */
export function scanSource(file: string, text: string): ScanFinding[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true)
  const findings: ScanFinding[] = []
  const report = (node: ts.Node, what: string): void => {
    const line = source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1
    findings.push({ file, line, what })
  }
  const member = (node: ts.Node, name: string | undefined): void => {
    if (name === undefined) return
    if (FORBIDDEN_MEMBERS.has(name)) report(node, `uses ${name}`)
    const home = RESTRICTED_MEMBERS.get(name)
    if (home !== undefined && home !== file) report(node, `uses ${name} outside ${home}`)
  }
  const visit = (node: ts.Node): void => {
    if (ts.isPropertyAccessExpression(node)) member(node, nameOf(node.name))
    else if (ts.isElementAccessExpression(node) && ts.isStringLiteralLike(node.argumentExpression)) {
      member(node, node.argumentExpression.text)
    } else if (ts.isBindingElement(node)) {
      const name = node.propertyName ?? node.name
      if (ts.isIdentifier(name)) member(node, name.text)
    } else if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const spec = node.moduleSpecifier.text
      if (FORBIDDEN_MODULES.has(spec)) report(node, `imports ${spec}`)
      const named = node.importClause?.namedBindings
      if (isElectronModule(spec) && named !== undefined && ts.isNamedImports(named)) {
        for (const el of named.elements) {
          const imported = (el.propertyName ?? el.name).text
          if (FORBIDDEN_IMPORTS.has(imported)) report(el, `imports ${imported} from ${spec}`)
        }
      }
    } else if (ts.isStringLiteralLike(node)) {
      if (FORBIDDEN_STRINGS.has(node.text) || FORBIDDEN_MODULES.has(node.text)) {
        report(node, `names '${node.text}'`)
      }
    } else if (ts.isNewExpression(node) && ts.isIdentifier(node.expression)) {
      const home = RESTRICTED_CONSTRUCTORS.get(node.expression.text)
      if (home !== undefined && home !== file) report(node, `new ${node.expression.text} outside ${home}`)
    } else if (ts.isPropertyAssignment(node) || ts.isShorthandPropertyAssignment(node)) {
      const key = nameOf(node.name)
      const safe = key === undefined ? undefined : SAFE_SETTINGS.get(key)
      if (safe !== undefined) {
        const want = safe ? ts.SyntaxKind.TrueKeyword : ts.SyntaxKind.FalseKeyword
        if (!ts.isPropertyAssignment(node) || node.initializer.kind !== want) {
          report(node, `sets ${key} to something other than ${String(safe)}`)
        }
      }
    }
    ts.forEachChild(node, visit)
  }
  visit(source)
  return findings
}

/** Every script file under `dirs` (relative to `root`), recursively. */
export function sourceFiles(root: string, dirs: string[]): string[] {
  return dirs.flatMap((dir) =>
    readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' })
      .filter((f) => /\.(c|m)?(t|j)s$/.test(f))
      .map((f) =>
        relative(root, join(root, dir, f))
          .split(sep)
          .join('/')
      )
      .sort()
  )
}

/** Scans every script file under `dirs`. */
export function scanTree(root: string, dirs: string[]): { files: string[]; findings: ScanFinding[] } {
  const files = sourceFiles(root, dirs)
  const findings = files.flatMap((file) => scanSource(file, readFileSync(join(root, file), 'utf8')))
  return { files, findings }
}
