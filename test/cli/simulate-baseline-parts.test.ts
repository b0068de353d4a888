import { describe, expect, it } from 'vitest';
import { localParts, mergeLocalParts, type BaselineResult } from '../../cli/simulate/baselines.ts';

describe('simulate: the site-alone baseline in parts', () => {
  it('splits the sites into groups of about equal training images, site order kept within a group', () => {
    const sites = [
      { name: 'site-a', images: 480 },
      { name: 'site-b', images: 160 },
      { name: 'site-c', images: 160 },
      { name: 'site-d', images: 160 },
    ];
    // site-a alone weighs as much as the three others
    expect(localParts(sites, 2)).toEqual([['site-a'], ['site-b', 'site-c', 'site-d']]);
    // by hand: 300 → first group (300); 200 → second (200); 150 → second (350); 100 → first (400)
    expect(localParts([{ name: 'w', images: 100 }, { name: 'x', images: 300 }, { name: 'y', images: 150 }, { name: 'z', images: 200 }], 2)).toEqual([['w', 'x'], ['y', 'z']]);
    expect(localParts(sites, 1)).toEqual([['site-a', 'site-b', 'site-c', 'site-d']]);
    expect(localParts(sites.slice(0, 1), 2)).toEqual([['site-a']]);
  });

  it('merges the parts into one result in site order, each parameter count with its site', () => {
    const p1: BaselineResult = { kind: 'local', aucs: { 'site-c': 0.7, 'site-a': 0.9 }, params: [30, 10], teacher: { 'site-c': 0.8, 'site-a': 0.95 }, teacherParams: 999 };
    const p2: BaselineResult = { kind: 'local', aucs: { 'site-b': 0.6 }, params: [20], teacher: { 'site-b': 0.85 }, teacherParams: 999 };
    const m = mergeLocalParts([p1, p2], ['site-a', 'site-b', 'site-c']);
    expect(Object.keys(m.aucs)).toEqual(['site-a', 'site-b', 'site-c']);
    expect(Object.values(m.aucs)).toEqual([0.9, 0.6, 0.7]);
    expect(m.params).toEqual([10, 20, 30]);
    expect(m.teacher).toEqual({ 'site-a': 0.95, 'site-b': 0.85, 'site-c': 0.8 });
    expect(m.teacherParams).toBe(999);
    expect(() => mergeLocalParts([p2], ['site-a', 'site-b'])).toThrow(/no site-alone result for site-a/);
  });
});
