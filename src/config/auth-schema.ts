import { z } from 'zod';
import { duration } from './duration-field.js';

/** What a policy may grant on a repository. */
export const REPOSITORY_ACTIONS = ['pull', 'push', 'delete'] as const;
export type RepositoryAction = (typeof REPOSITORY_ACTIONS)[number];

const actions = (description: string) => z.array(z.enum(REPOSITORY_ACTIONS)).default([]).describe(description);
const names = (description: string) => z.array(z.string().min(1)).default([]).describe(description);

const policySchema = z
  .object({
    users: names('Users this policy is for.'),
    groups: names('Groups (accessControl.groups) this policy is for.'),
    actions: actions('What they may do: pull, push, delete.'),
  })
  .strict();

const repositoryPolicySchema = z
  .object({
    policies: z.array(policySchema).default([]).describe('Who may do what on the repositories this pattern matches.'),
    defaultPolicy: actions('What any authenticated user not named in a policy may do.'),
    anonymousPolicy: actions('What a request without credentials may do (pull makes the repositories public).'),
  })
  .strict();

/**
 * Authentication (docs/auth.md). Absent: every request is anonymous, and anonymous requests may
 * do everything unless accessControl says otherwise.
 */
export const authSchema = z
  .object({
    htpasswd: z
      .object({
        path: z.string().min(1).describe('An htpasswd file of bcrypt entries (htpasswd -B); re-read when it changes.'),
        cacheTtl: duration('1m', 'How long a verified user and password is remembered (by a hash of both), so that bcrypt does not run on every request.'),
      })
      .strict()
      .optional()
      .describe('HTTP Basic authentication against an htpasswd file.'),
    realm: z.string().min(1).default('porthole').describe('The realm named in the Basic challenge (WWW-Authenticate).'),
    failedLogins: z
      .object({
        limit: z.number().int().min(1).default(10).describe('Failed logins from one client address within the window that lock it out of logging in (429) until the window ends.'),
        userLimit: z.number().int().min(1).default(50).describe('Failed logins for one user, from any address, within the window that lock that user out.'),
        window: duration('1m', 'The window failed logins are counted in.'),
      })
      .strict()
      .prefault({})
      .describe('Limits on guessing passwords.'),
  })
  .strict()
  .optional()
  .describe('Authentication (see docs/auth.md). Absent: every request is anonymous.');

/**
 * Access control per repository (docs/auth.md), as zot's accessControl: repository patterns
 * (`team/**`, `**`), the users and groups of each policy, and what anonymous and other
 * authenticated users may do. Absent: authenticated users may do everything, and anonymous
 * requests are refused when auth is configured.
 */
export const accessControlSchema = z
  .object({
    groups: z.record(z.string().min(1), z.array(z.string().min(1))).default({}).describe('Named groups of users, for policies.'),
    repositories: z
      .record(z.string().min(1), repositoryPolicySchema)
      .default({})
      .describe('Policies by repository pattern: * matches within one path segment, ** across segments; the most specific matching pattern applies.'),
    adminPolicy: policySchema.optional().describe('Users and groups that may do these actions on every repository, whatever the patterns say.'),
  })
  .strict()
  .superRefine((control, context) => {
    const groups = new Set(Object.keys(control.groups));
    const check = (policy: z.output<typeof policySchema>, path: (string | number)[]) => {
      policy.groups.forEach((group, index) => {
        if (!groups.has(group)) context.addIssue({ code: 'custom', path: [...path, 'groups', index], message: `names the group "${group}", which accessControl.groups does not define` });
      });
    };
    for (const [pattern, repository] of Object.entries(control.repositories)) repository.policies.forEach((policy, index) => check(policy, ['repositories', pattern, 'policies', index]));
    if (control.adminPolicy) check(control.adminPolicy, ['adminPolicy']);
  })
  .optional()
  .describe('Access control per repository (see docs/auth.md). Absent: any authenticated user may do everything.');

export type AuthConfig = z.output<typeof authSchema>;
export type AccessControlConfig = z.output<typeof accessControlSchema>;
