/**
 * The bench's fake upstream as a process of its own, as a real provider is: in the bench's
 * process its 200 streams' events would share one event loop with the client that measures,
 * and every call through the proxy waits on that loop once more than a direct call does.
 * Prints its URL, then serves until its standard input closes (the bench ended, however).
 */
import { startFakeUpstream } from '../test/support/fake-upstream';

const fake = await startFakeUpstream({ remember: false });
process.stdout.write(`${fake.url}\n`);
process.stdin.resume();
process.stdin.on('close', () => void fake.close().then(() => process.exit(0)));
