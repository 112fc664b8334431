import { z } from 'zod';
import { duration } from './duration-field.js';
import { isHttpUrl } from './url-fields.js';

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
 * Bearer tokens, the Docker/OCI token flow (docs/auth.md#bearer-tokens). Without rootCertBundle
 * and jwks porthole is its own issuer: it serves the realm (/auth/token) and signs the tokens;
 * with either, tokens come from an external issuer (distribution's auth.token) and porthole only
 * verifies them.
 */
const tokenSchema = z
  .object({
    realm: z
      .string()
      .refine(isHttpUrl, { message: 'must be an http:// or https:// URL' })
      .optional()
      .describe('The URL clients get tokens from, named in the Bearer challenge. Required with an external issuer; absent with porthole as issuer: /auth/token on the host (scheme and Host header) the request came to.'),
    service: z.string().min(1).default('porthole').describe('The service: named in the challenge, asked for by clients, and the audience (aud) every token must have.'),
    issuer: z.string().min(1).default('porthole').describe('The issuer (iss) of the tokens: what porthole writes into the tokens it signs, or what an external issuer writes into its own.'),
    expiry: duration('5m', 'How long a token porthole issues is valid (expires_in).'),
    signingKey: z
      .string()
      .min(1)
      .optional()
      .describe('PEM file of the private key porthole signs its tokens with (EC P-256: ES256, or RSA: RS256), so that several replicas accept each other\'s tokens. Absent: a P-256 key made at start-up (tokens do not survive a restart).'),
    rootCertBundle: z
      .string()
      .min(1)
      .optional()
      .describe('External issuer: PEM file of the certificates that vouch for token signers; the x5c chain in a token\'s header must lead to one of them (as distribution\'s rootcertbundle).'),
    jwks: z.string().min(1).optional().describe('External issuer: a JSON Web Key Set file; a token\'s kid names the key it is verified with.'),
  })
  .strict()
  .superRefine((token, context) => {
    const external = token.rootCertBundle !== undefined || token.jwks !== undefined;
    if (external && token.realm === undefined) context.addIssue({ code: 'custom', path: ['realm'], message: 'is required with an external issuer (rootCertBundle or jwks): the URL of its token endpoint' });
    if (external && token.signingKey !== undefined) context.addIssue({ code: 'custom', path: ['signingKey'], message: 'is for tokens porthole issues itself; with rootCertBundle or jwks the tokens come from an external issuer' });
  })
  .optional()
  .describe('Bearer tokens (the Docker/OCI token flow). porthole issues them at /auth/token unless rootCertBundle or jwks name an external issuer.');

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
    token: tokenSchema,
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
  .superRefine((auth, context) => {
    // porthole's own realm checks the credentials of token requests against the htpasswd users.
    const ownIssuer = auth.token !== undefined && auth.token.rootCertBundle === undefined && auth.token.jwks === undefined;
    if (ownIssuer && auth.htpasswd === undefined) context.addIssue({ code: 'custom', path: ['token'], message: 'needs auth.htpasswd, the users who log in at /auth/token (or rootCertBundle or jwks, for tokens of an external issuer)' });
  })
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
export type TokenConfig = NonNullable<z.output<typeof tokenSchema>>;
export type AccessControlConfig = z.output<typeof accessControlSchema>;
