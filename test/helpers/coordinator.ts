import { afterEach } from 'vitest';
import type { Coordinator } from '../../coordinator/coordinator.ts';

/**
 * Closes a describe block's coordinator after each test. `current` reads the block's
 * `let coord` variable; Coordinator.close is idempotent, so a coordinator the test
 * closed itself, or one left over from an earlier test, is closed harmlessly again.
 */
export function closeCoordinatorAfterEach(current: () => Coordinator | null): void {
  afterEach(() => current()?.close());
}
