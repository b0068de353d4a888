import { describe, expect, it } from 'vitest';
import { firstTouchAdvice, KEEP_FREED_MEMORY_ENV, measureFirstTouch, SLOW_FIRST_TOUCH_RATIO } from '../../core/first-touch.ts';

describe('fresh memory and large model transfers (fedkd doctor)', () => {
  it('advises glibc\'s two settings only where fresh pages are over 8× slower and they are not set', () => {
    // this project's VM: 370 MB/s fresh against 13,500 touched (36×)
    const vm = firstTouchAdvice({ freshMBps: 370, touchedMBps: 13_500 }, {});
    expect(vm).toMatchObject({ keepsFreedMemory: false, slowFirstTouch: true });
    expect(vm.advice).toBe(
      'copy into fresh memory 370 MB/s, into touched memory 13500 MB/s: fresh pages are slow here and bound large model transfers; start the coordinator and sites with MALLOC_MMAP_THRESHOLD_=1073741824 MALLOC_TRIM_THRESHOLD_=8589934592 (docs/FEDERATION.md)',
    );
    // 2,000 × 8 = 16,000 ≥ 13,500: not slow
    expect(firstTouchAdvice({ freshMBps: 2000, touchedMBps: 13_500 }, {})).toMatchObject({ slowFirstTouch: false, advice: 'copy into fresh memory 2000 MB/s, into touched memory 13500 MB/s: fresh pages are cheap here' });
    // set: no advice, even on a slow machine; one of the two alone does not count
    expect(firstTouchAdvice({ freshMBps: 370, touchedMBps: 13_500 }, { ...KEEP_FREED_MEMORY_ENV }).advice).toMatch(/glibc keeps freed memory \(MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_ set\)$/);
    expect(firstTouchAdvice({ freshMBps: 370, touchedMBps: 13_500 }, { MALLOC_MMAP_THRESHOLD_: '1073741824' }).keepsFreedMemory).toBe(false);
    expect(SLOW_FIRST_TOUCH_RATIO).toBe(8);
  });

  it('measures two positive copy rates of the size asked', () => {
    const m = measureFirstTouch(4);
    expect(m.freshMBps).toBeGreaterThan(0);
    expect(m.touchedMBps).toBeGreaterThan(0);
    expect(Number.isFinite(m.freshMBps + m.touchedMBps)).toBe(true);
  });
});
