/** The error a promise rejects with, with the fields registry errors carry (fails the test when it resolves). */
export async function failure(
  p: Promise<unknown>,
): Promise<Error & { code?: string; status?: number; refusal?: string }> {
  try {
    await p;
  } catch (e) {
    return e as Error & { code?: string; status?: number; refusal?: string };
  }
  throw new Error('expected a rejection');
}
