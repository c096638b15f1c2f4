/**
 * Reads an HTTP response body until it ends or passes `maxBytes`. Past the cap it stops (leaving
 * the loop ends the stream and frees its socket) and says so: the caller decides whether a cut
 * body is still of use (an error message) or a failure (an answer to parse). The chunk that
 * crossed the cap is kept.
 */
export async function readBody(body: AsyncIterable<Uint8Array>, maxBytes: number): Promise<{ bytes: Buffer; overflowed: boolean }> {
  const chunks: Buffer[] = [];
  let total = 0;
  let overflowed = false;
  for await (const chunk of body) {
    chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    total += chunk.byteLength;
    if (total > maxBytes) {
      overflowed = true;
      break;
    }
  }
  return { bytes: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total), overflowed };
}
