/**
 * A small schema language for the API: each schema is a JSON Schema
 * (OpenAPI 3.0 dialect) that also carries its TypeScript type, so one
 * definition validates a request, types the handler's input and becomes
 * the OpenAPI document (src/web/openapi.ts). Only what the API uses is
 * here: strings (with enum, pattern, length), integers, booleans, arrays,
 * objects with named required properties, nullable values and named
 * components.
 */

/** The JSON Schema text of a schema, as it appears in the OpenAPI document. */
export interface JsonSchema {
  type?: 'string' | 'integer' | 'number' | 'boolean' | 'array' | 'object';
  description?: string;
  enum?: readonly (string | number)[];
  format?: string;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
  items?: JsonSchema;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  nullable?: boolean;
  example?: unknown;
  /** Set on named components: where the document puts them. */
  $ref?: string;
}

/** A schema whose values have type T. */
export interface Schema<T> {
  readonly json: JsonSchema;
  /** The component name, for schemas shown once under components.schemas. */
  readonly name?: string;
  /** Properties of an object schema (kept for components and nested references). */
  readonly props?: Record<string, Schema<unknown>>;
  readonly items?: Schema<unknown>;
  /** Type carrier only; never set. */
  readonly __type?: T;
}

export type Infer<S> = S extends Schema<infer T> ? T : never;

interface Common {
  description?: string;
  example?: unknown;
}

type Simplify<T> = { [K in keyof T]: T[K] } & {};
type ObjectOf<P extends Record<string, Schema<unknown>>, R extends keyof P> = Simplify<
  { [K in R]: Infer<P[K]> } & { [K in Exclude<keyof P, R>]?: Infer<P[K]> }
>;

export const s = {
  string(opts: Common & { minLength?: number; maxLength?: number; pattern?: string; format?: string } = {}): Schema<string> {
    return { json: { type: 'string', ...opts } };
  },
  enum<const V extends string>(values: readonly V[], opts: Common = {}): Schema<V> {
    return { json: { type: 'string', enum: values, ...opts } };
  },
  integer(opts: Common & { minimum?: number; maximum?: number } = {}): Schema<number> {
    return { json: { type: 'integer', ...opts } };
  },
  boolean(opts: Common = {}): Schema<boolean> {
    return { json: { type: 'boolean', ...opts } };
  },
  array<T>(items: Schema<T>, opts: Common & { minItems?: number; maxItems?: number } = {}): Schema<T[]> {
    return { json: { type: 'array', items: items.json, ...opts }, items: items as Schema<unknown> };
  },
  /** An object; properties not listed are refused in requests (a misspelt field is a 400, not silently ignored). */
  object<P extends Record<string, Schema<unknown>>, const R extends keyof P & string = never>(
    props: P, required: readonly R[] = [], opts: Common = {},
  ): Schema<ObjectOf<P, R>> {
    return {
      json: {
        type: 'object',
        properties: Object.fromEntries(Object.entries(props).map(([k, v]) => [k, v.json])),
        ...(required.length > 0 ? { required: [...required] } : {}),
        additionalProperties: false,
        ...opts,
      },
      props,
    };
  },
  /** A map from strings to values of one schema. */
  record<T>(values: Schema<T>, opts: Common = {}): Schema<Record<string, T>> {
    return { json: { type: 'object', additionalProperties: values.json, ...opts }, items: values as Schema<unknown> };
  },
  nullable<T>(schema: Schema<T>): Schema<T | null> {
    return { ...schema, json: { ...schema.json, nullable: true } };
  },
  /** A schema shown once in the document under components.schemas and referred to elsewhere. */
  named<T>(name: string, schema: Schema<T>): Schema<T> {
    return { ...schema, name };
  },
};

/** What is wrong with a value: the field (a dotted path, "" for the whole value) and a sentence. */
export interface SchemaProblem {
  field: string;
  message: string;
}

function join(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path === '' ? key : `${path}.${key}`;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : typeof v === 'string' ? 'a string' : typeof v;
}

/** The first problem with a value, or null if it conforms. */
export function validate(schema: JsonSchema, value: unknown, path = ''): SchemaProblem | null {
  const where = path === '' ? 'the body' : path;
  if (value === null) return schema.nullable ? null : { field: path, message: `${where} must not be null` };
  if (value === undefined) return { field: path, message: `${where} is missing` };
  switch (schema.type) {
    case 'string': {
      if (typeof value !== 'string') return { field: path, message: `${where} must be a string, not ${describe(value)}` };
      if (schema.enum && !schema.enum.includes(value)) return { field: path, message: `${where} must be one of ${schema.enum.join(', ')}` };
      if (schema.minLength !== undefined && value.length < schema.minLength) {
        return { field: path, message: schema.minLength === 1 ? `${where} must not be empty` : `${where} must have at least ${schema.minLength} characters` };
      }
      if (schema.maxLength !== undefined && value.length > schema.maxLength) return { field: path, message: `${where} must have at most ${schema.maxLength} characters` };
      if (schema.pattern !== undefined && !new RegExp(schema.pattern, 'u').test(value)) return { field: path, message: `${where} is not in the expected form` };
      return null;
    }
    case 'integer':
    case 'number': {
      if (typeof value !== 'number' || !Number.isFinite(value)) return { field: path, message: `${where} must be a number, not ${describe(value)}` };
      if (schema.type === 'integer' && !Number.isSafeInteger(value)) return { field: path, message: `${where} must be a whole number` };
      if (schema.minimum !== undefined && value < schema.minimum) return { field: path, message: `${where} must be at least ${schema.minimum}` };
      if (schema.maximum !== undefined && value > schema.maximum) return { field: path, message: `${where} must be at most ${schema.maximum}` };
      return null;
    }
    case 'boolean':
      return typeof value === 'boolean' ? null : { field: path, message: `${where} must be true or false, not ${describe(value)}` };
    case 'array': {
      if (!Array.isArray(value)) return { field: path, message: `${where} must be an array, not ${describe(value)}` };
      if (schema.minItems !== undefined && value.length < schema.minItems) return { field: path, message: `${where} must have at least ${schema.minItems} item(s)` };
      if (schema.maxItems !== undefined && value.length > schema.maxItems) return { field: path, message: `${where} must have at most ${schema.maxItems} items` };
      for (let i = 0; i < value.length; i++) {
        const p = schema.items ? validate(schema.items, value[i], join(path, i)) : null;
        if (p) return p;
      }
      return null;
    }
    case 'object': {
      if (typeof value !== 'object' || Array.isArray(value)) return { field: path, message: `${where} must be a JSON object, not ${describe(value)}` };
      const o = value as Record<string, unknown>;
      for (const key of schema.required ?? []) {
        if (o[key] === undefined) return { field: join(path, key), message: `${join(path, key)} is required` };
      }
      for (const [key, v] of Object.entries(o)) {
        const prop = schema.properties?.[key];
        if (prop) {
          const p = validate(prop, v, join(path, key));
          if (p) return p;
        } else if (typeof schema.additionalProperties === 'object') {
          const p = validate(schema.additionalProperties, v, join(path, key));
          if (p) return p;
        } else if (schema.additionalProperties === false) {
          return { field: join(path, key), message: `${join(path, key)} is not a field of this request` };
        }
      }
      return null;
    }
    default:
      return null;
  }
}

/**
 * Query and path parameters arrive as text: turns each into the type its
 * schema asks for ("10" to 10, "true" to true), leaving what does not
 * convert for validate() to name.
 */
export function coerceParameters(schema: JsonSchema, raw: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) {
    const t = schema.properties?.[k]?.type;
    if (t === 'integer' || t === 'number') out[k] = /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v;
    else if (t === 'boolean') out[k] = v === 'true' ? true : v === 'false' ? false : v;
    else out[k] = v;
  }
  return out;
}
