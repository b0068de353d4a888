/** Disjoint sets over 0..n-1 with path halving and union by size; grows on demand. */
export class UnionFind {
  private parent: number[] = [];
  private size: number[] = [];

  /** Adds a new singleton set and returns its element. */
  add(): number {
    const id = this.parent.length;
    this.parent.push(id);
    this.size.push(1);
    return id;
  }

  /** Number of elements. */
  get length(): number {
    return this.parent.length;
  }

  /** The representative of x's set. */
  find(x: number): number {
    while (this.parent[x] !== x) {
      this.parent[x] = this.parent[this.parent[x]];
      x = this.parent[x];
    }
    return x;
  }

  /** Merges the sets of a and b. */
  union(a: number, b: number): void {
    let ra = this.find(a);
    let rb = this.find(b);
    if (ra === rb) return;
    if (this.size[ra] < this.size[rb]) [ra, rb] = [rb, ra];
    this.parent[rb] = ra;
    this.size[ra] += this.size[rb];
  }
}
