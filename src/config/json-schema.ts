import { z } from 'zod';
import { configSchema } from './schema.js';

/** The parts of a JSON Schema node that zod writes for porthole's configuration and that porthole reads. */
export interface JsonSchemaNode {
  type?: string | string[];
  format?: string;
  description?: string;
  default?: unknown;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  properties?: Record<string, JsonSchemaNode>;
  additionalProperties?: unknown;
  anyOf?: JsonSchemaNode[];
  items?: JsonSchemaNode;
  required?: string[];
}

let rendered: JsonSchemaNode | undefined;

/**
 * The configuration schema as JSON Schema, as a user writes the file (defaults not yet applied):
 * what the reference (docs/config.md) and the environment variables are derived from, so that
 * neither can name a key the schema does not have.
 */
export function configJsonSchema(): JsonSchemaNode {
  rendered ??= z.toJSONSchema(configSchema, { io: 'input' }) as JsonSchemaNode;
  return rendered;
}

/** The JSON types a node takes, whichever way zod wrote them (a type list, or anyOf for nullable). */
export function typesOf(node: JsonSchemaNode): string[] {
  if (node.anyOf) return node.anyOf.flatMap(typesOf);
  if (Array.isArray(node.type)) return node.type;
  return node.type === undefined ? [] : [node.type];
}

/** A section of named keys (as opposed to a leaf, a list or a map of free keys). */
export function isSection(node: JsonSchemaNode): boolean {
  return node.properties !== undefined;
}
