/** The first admin (DESIGN §9): user `admin`, with ADMIN_PASSWORD or a generated one-time password. */
import type { Database } from '../db/open-database.js';
import { generatePassword, hashPassword } from './passwords.js';
import { countUsers, insertUser } from './users-repo.js';

/** Creates `admin` when there is no user at all; returns the generated password (to print once), else null. */
export async function ensureFirstAdmin(
  db: Database,
  adminPassword: string | undefined,
): Promise<{ generatedPassword: string | null }> {
  if (countUsers(db) > 0) return { generatedPassword: null };
  const password = adminPassword ?? generatePassword();
  const passwordHash = await hashPassword(password);
  // Checked again after the await: another start may have raced us to it.
  if (countUsers(db) > 0) return { generatedPassword: null };
  insertUser(db, { username: 'admin', role: 'admin', passwordHash });
  return { generatedPassword: adminPassword ? null : password };
}
