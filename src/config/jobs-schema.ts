import { z } from 'zod';
import { duration } from './duration-field.js';
import { isDuration } from './durations.js';
import { hasUserinfo, isHttpUrl } from './url-fields.js';

/** `every` of a job: absent, the job is not scheduled (its other keys still apply to CLI runs). */
const every = (what: string) =>
  z
    .string()
    .refine(isDuration, { message: 'must be a duration such as 30m, 24h or 7d' })
    .optional()
    .describe(`Run ${what} inside \`serve\` this long after the previous run finished. Absent: not scheduled.`)
    .meta({ format: 'duration' });

const pushgatewaySchema = z
  .object({
    url: z
      .string()
      .refine(isHttpUrl, { message: 'must be an http:// or https:// URL such as http://127.0.0.1:9091' })
      .refine((text) => !hasUserinfo(text), { message: 'must not hold a user name or password: give them as username and password' })
      .describe('Base URL of the Prometheus Pushgateway, e.g. http://pushgateway:9091.'),
    job: z.string().min(1).default('porthole').describe('The `job` label of the pushed group.'),
    groupingKey: z
      .record(z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, { message: 'must be a label name' }), z.string().min(1))
      .optional()
      .describe('Labels of the pushed group besides job and action; default `{instance: <host name>}`.'),
    username: z.string().min(1).optional().describe('User name for basic auth at the gateway.'),
    password: z.string().optional().describe('Password for that user; never logged.'),
    timeout: duration('10s', 'Longest wait for the gateway to take a push.'),
  })
  .strict()
  .refine((gateway) => gateway.password === undefined || gateway.username !== undefined, { message: 'password needs a username' })
  .refine((gateway) => gateway.groupingKey === undefined || !('job' in gateway.groupingKey || 'action' in gateway.groupingKey), {
    message: 'groupingKey must not name job or action: porthole sets them',
  });

const gcSchema = z
  .object({
    every: every('garbage collection'),
    grace: duration('1h', 'Blobs and manifests younger than this are never collected: a push in progress has its blobs before its manifest.'),
    untagged: z.boolean().default(false).describe('Also remove manifests that no tag, index or kept referrer subject keeps.'),
  })
  .strict()
  .prefault({})
  .describe('Garbage collection of content that nothing references (`porthole gc`).');

const scrubSchema = z
  .object({
    every: every('the scrub'),
    repair: z.boolean().default(false).describe('Remove each corrupt blob so that it can be pushed (or fetched) again.'),
  })
  .strict()
  .prefault({})
  .describe('Re-hashing of every stored blob and manifest (`porthole scrub`).');

const backupSchema = z
  .object({
    every: every('the backup'),
    to: z
      .string()
      .min(1)
      .optional()
      .describe('Archive path of a scheduled backup; `{date}` becomes the UTC time of the run (20261128T061400Z). `.tar`, `.tar.gz` or `.tar.zst`.'),
    keep: z.number().int().min(1).default(7).describe('Scheduled archives kept (the newest); older ones matching `to` are removed.'),
    repos: z.array(z.string().min(1)).default([]).describe('Repository globs to back up (`*` within a path component, `**` across); empty: all.'),
  })
  .strict()
  .prefault({})
  .superRefine((backup, context) => {
    if (backup.every !== undefined && backup.to === undefined) context.addIssue({ code: 'custom', path: ['to'], message: 'a scheduled backup (every) needs an archive path' });
  })
  .describe('Backups as OCI image layouts in a tar (`porthole backup`).');

export const jobsSchema = z
  .object({
    pushgateway: pushgatewaySchema.optional().describe('Where every job run pushes its metrics (see docs/jobs.md). Absent: no push.'),
    gc: gcSchema,
    scrub: scrubSchema,
    backup: backupSchema,
  })
  .strict()
  .prefault({})
  .describe('Batch jobs and their schedule inside serve (see docs/jobs.md); prune is under proxy.prune.');

export type JobsConfig = z.output<typeof jobsSchema>;
export type PushgatewayConfig = z.output<typeof pushgatewaySchema>;
export type GcConfig = z.output<typeof gcSchema>;
export type ScrubConfig = z.output<typeof scrubSchema>;
export type BackupConfig = z.output<typeof backupSchema>;
