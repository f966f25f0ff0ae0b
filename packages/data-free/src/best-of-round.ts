import * as tf from '@tensorflow/tfjs';

/**
 * Keeps the single lowest-loss candidate of a synthesis round ("best data over T iterations").
 * Offered tensors are owned by the tracker: the loser of each comparison is disposed at once.
 * Ties keep the earlier candidate (strict `<`, as the reference's `best_cost > loss`).
 */
export class BestOfRound<T extends tf.TensorContainer> {
  private bestLoss = Number.POSITIVE_INFINITY;
  private bestIteration = -1;
  private bestItem: T | undefined;
  private bestInfo: Readonly<Record<string, number>> = {};

  /** Offers a candidate; returns true when it became the new best. `info` is stored with it (loss terms). */
  offer(loss: number, item: T, iteration: number, info: Readonly<Record<string, number>> = {}): boolean {
    if (this.bestItem === undefined || loss < this.bestLoss) {
      if (this.bestItem !== undefined) tf.dispose(this.bestItem);
      this.bestItem = item;
      this.bestLoss = loss;
      this.bestIteration = iteration;
      this.bestInfo = info;
      return true;
    }
    tf.dispose(item);
    return false;
  }

  get loss(): number {
    return this.bestLoss;
  }

  get iteration(): number {
    return this.bestIteration;
  }

  get info(): Readonly<Record<string, number>> {
    return this.bestInfo;
  }

  /** Hands the kept item to the caller (who then owns it); the tracker is empty afterwards. */
  take(): T | undefined {
    const item = this.bestItem;
    this.bestItem = undefined;
    return item;
  }

  dispose(): void {
    if (this.bestItem !== undefined) tf.dispose(this.bestItem);
    this.bestItem = undefined;
  }
}
