/** A local change to a tally's document: made, on disk, and only then released to the counterparty. */
import type { DocHandle } from '@automerge/automerge-repo'
import type { DocumentParts } from './document-parts.ts'
import type { StoredTallyDoc } from './tally-document.ts'

/** Change the document by `fn` (its error thrown as it is, nothing written); on disk on return. */
export async function changeDocument(
  parts: Pick<DocumentParts, 'adapter' | 'repo'>,
  handle: DocHandle<StoredTallyDoc>,
  fn: (doc: StoredTallyDoc) => void
): Promise<void> {
  let failure: unknown
  // the counterparty gets the change once our disk holds it (adapter-hold.ts says why)
  const release = parts.adapter.hold(handle.documentId)
  try {
    handle.change((d) => {
      try {
        fn(d)
      } catch (err) {
        failure = err
      }
    })
    if (failure !== undefined) throw failure
    await parts.repo.flush([handle.documentId])
  } finally {
    release()
  }
}
