import { MeshpressError } from '@meshpress/client';

/**
 * A periodic task's iteration stopped because this instance no longer surely holds the task's lease:
 * another instance may be running the task now. `CONFLICT`, from the shared vocabulary of codes: the task
 * passed to someone else.
 */
export class LeaseLostError extends MeshpressError {
  constructor(readonly task: string) {
    super('CONFLICT', `the lease on task ${task} was lost`, { details: { task } });
  }
}
