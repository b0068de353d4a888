/**
 * Errors a user can cause (a bad file, a bad flag, an unreachable coordinator).
 * The CLI prints `message` on one line of stderr and exits with code 2, no stack trace.
 * Anything else is a programming error and may crash loudly.
 */
export class UserError extends Error {
  override readonly name = 'UserError';
  constructor(message: string) {
    super(message);
  }
}

/** True for errors whose message is meant for the user as it is. */
export function isUserError(e: unknown): e is UserError {
  return e instanceof UserError;
}
