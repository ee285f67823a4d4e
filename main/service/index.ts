/** The console service shared by Electron and `taleus serve`. */
export { createConsoleService } from './console-service.ts'
export type { ConsoleService, ConsoleServiceInit } from './console-service.ts'
export { EventBatcher } from './event-batcher.ts'
export { SessionTable, isTerminalState } from './session-table.ts'
export { REASON_MESSAGES, REFUSAL_REASONS, describeFailure } from '../bootstrap/reason-words.ts'
