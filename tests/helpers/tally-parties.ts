/** Two parties of one draft tally (B dialled A's stock link) and a third peer, for tests of its document. */
export const A = '12D3KooWQm1aZc5x3DWu3Dm8WgRd4R2QPbbgdrGfvm2mXJbEPR8W'
export const B = '12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq'
export const C = '12D3KooWEU62NZGdugEzXoAKciDyySf5EAQ3oYd6mvduwG8Fyb5q'
/** The time every step of these tests is written at. */
export const at = '2026-11-30T00:00:00.000Z'

/** The draft tally between A and B with `tallyId`. */
export function draftTally(tallyId = 't-1'): {
  tallyId: string
  createdBy: 'stock'
  initiatorPeerId: string
  respondentPeerId: string
  createdAt: string
} {
  return { tallyId, createdBy: 'stock', initiatorPeerId: B, respondentPeerId: A, createdAt: at }
}
