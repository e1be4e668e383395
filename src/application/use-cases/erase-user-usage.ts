import { inject, injectable } from 'tsyringe';
import { ForbiddenError } from '../../domain/errors';
import type { Principal } from '../../domain/principal';
import { TOKENS } from '../ports/tokens';
import type { ErasedUsage, UsageErasure } from '../ports/usage-erasure.port';

export interface UserUsageErased extends ErasedUsage {
  userId: string;
}

/**
 * Right to erasure: an admin removes one user's usage from the admin's own workspace —
 * raw records, rollup contributions and request ids — as if the user had never sent any.
 * Erasing a user with no usage erases nothing and succeeds, so a retry is harmless.
 */
@injectable()
export class EraseUserUsage {
  constructor(@inject(TOKENS.UsageErasure) private readonly erasure: UsageErasure) {}

  async execute(principal: Principal, userId: string): Promise<UserUsageErased> {
    if (principal.kind !== 'user' || principal.role !== 'admin') {
      throw new ForbiddenError('erasing a user’s usage needs the admin role');
    }
    const erased = await this.erasure.eraseUser(principal.workspaceId, userId);
    return { userId, ...erased };
  }
}
