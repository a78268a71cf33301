// The 100-byte payload every backend serves; the correctness check compares
// against it byte for byte.
export const BODY = Buffer.from('0123456789'.repeat(9) + 'kamal-nap\n');
if (BODY.length !== 100) throw new Error('bench body must be 100 bytes');
