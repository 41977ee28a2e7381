// Zod input schemas of the legacy tRPC procedures (contract sections 4 and 5).
//
// This module is the single source of truth for what the stand-in validates,
// and it is imported as-is by tests outside this package (the Go validator is
// compared with it), so it must stay free of side effects and of imports other
// than zod.
//
// The shapes reproduce the legacy app's schemas with the zod 3 API, because
// the wire output (issue text, issue key order, issue order) is whatever zod
// 3.25.76 produces from them:
//  - checks run in declaration order and `.trim()` is itself a check, so the
//    regex sees the untrimmed value (`"HTSF-001 "` is rejected);
//  - tRPC validates with parseAsync, and in async mode zod 3 resolves each
//    z.union branch in a later microtask: that is why the issues of the
//    number-or-null fields (concentration, volume) come after every other
//    field's issues;
//  - enums with custom `required_error`/`invalid_type_error` build their
//    invalid_type issue with the key order expected, received, code.
import { z } from 'zod';

/** Regular expressions of the legacy validation rules. */
export const patterns = Object.freeze({
  chartField: /^(HTSF|NANO|SEQ)-\d{3}$/,
  alphanumeric: /^[a-zA-Z0-9\s\-_.]+$/,
  labName: /^[a-zA-Z0-9\s\-_.,']+$/,
  personName: /^[a-zA-Z\s\-'.]+$/,
  // The service-level e-mail re-check of create (contract 4.3).
  serviceEmail: /^[^\s@]+@[^\s@]+\.[^\s@]+$/,
});

/** Fixed messages of the legacy validation rules. */
export const messages = Object.freeze({
  required: 'This field is required',
  email: 'Please enter a valid email address',
  uuid: 'Invalid ID format',
  chartField: 'Chart field must be in format: HTSF-001, NANO-001, or SEQ-001',
  maxLength: (max) => `Must not exceed ${max} characters`,
  alphanumeric: 'Only letters, numbers, spaces, hyphens, underscores, and dots are allowed',
  personName: 'Only letters, spaces, hyphens, apostrophes, and dots are allowed',
  labName: 'Invalid lab name format',
});

// SQL keywords the legacy sanitiser strips as whole words (contract 4.3).
const sqlKeywords = /\b(SELECT|INSERT|UPDATE|DELETE|DROP|CREATE|ALTER|EXEC|EXECUTE|UNION|DECLARE)\b/gi;

/**
 * sanitizeString reproduces the legacy input sanitiser that the e-mail field
 * runs through after zod's e-mail check: an XSS strip, a SQL-keyword strip,
 * a `../` strip, an HTML-tag strip, then a trim. Case is preserved.
 * Examples: `jo.update@lab.org` -> `jo.@lab.org`,
 * `Delete.Me@select.org` -> `.Me@.org` (which then fails the service re-check).
 */
export function sanitizeString(input) {
  let s = String(input);
  // 1. XSS: script blocks, javascript:/vbscript: URLs, inline event handlers.
  s = s.replace(/<script\b[^>]*>[\s\S]*?<\/script\s*>/gi, '')
    .replace(/(javascript|vbscript)\s*:/gi, '')
    .replace(/\bon\w+\s*=/gi, '');
  // 2. SQL: keywords, then comments, then xp_/sp_ words, then OR/AND tautologies.
  s = s.replace(sqlKeywords, '')
    .replace(/--.*$/gm, '')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/\b(xp|sp)_\w*/gi, '')
    .replace(/'\s*(OR|AND)\s*'[^']*'\s*=\s*'[^']*/gi, '')
    .replace(/\b(OR|AND)\s+\d+\s*=\s*\d+/gi, '');
  // 3. Path traversal.
  s = s.replace(/\.\.\//g, '');
  // 4. HTML tags.
  s = s.replace(/<[^>]*>/g, '');
  // 5. Trim.
  return s.trim();
}

const sampleName = z.string()
  .min(1, messages.required)
  .max(255, messages.maxLength(255))
  .regex(patterns.alphanumeric, messages.alphanumeric)
  .trim();

const projectId = z.string()
  .max(100, messages.maxLength(100))
  .regex(patterns.alphanumeric, messages.alphanumeric)
  .trim()
  .optional();

const personName = z.string()
  .min(1, messages.required)
  .max(255, messages.maxLength(255))
  .regex(patterns.personName, messages.personName)
  .trim();

const email = z.string()
  .email(messages.email)
  .transform((val) => sanitizeString(val));

const labName = z.string()
  .max(255, messages.maxLength(255))
  .regex(patterns.labName, messages.labName)
  .trim()
  .optional();

const sampleType = z.enum(['DNA', 'RNA', 'Protein', 'Other'], {
  required_error: messages.required,
  invalid_type_error: 'Sample type must be DNA, RNA, Protein, or Other',
});

const sampleBuffer = z.string().max(100, messages.maxLength(100)).trim().optional();

const chartField = z.string()
  .min(1, messages.required)
  .regex(patterns.chartField, messages.chartField)
  .trim();

// Number-or-null fields: three branches so that a wrong type yields an
// invalid_union issue whose unionErrors list number, null and undefined.
const concentration = z.union([
  z.number()
    .min(0.001, 'Concentration must be at least 0.001 ng/μL')
    .max(10000, 'Concentration cannot exceed 10,000 ng/μL'),
  z.null(),
  z.undefined(),
]).optional();

const volume = z.union([
  z.number()
    .min(0.1, 'Volume must be at least 0.1 μL')
    .max(1000, 'Volume cannot exceed 1,000 μL'),
  z.null(),
  z.undefined(),
]).optional();

const totalAmount = z.number()
  .min(0.001, 'Total amount must be at least 0.001 ng')
  .max(100000, 'Total amount cannot exceed 100,000 ng')
  .optional();

const flowCellCount = z.number()
  .int()
  .min(1, 'Flow cell count must be at least 1')
  .max(10, 'Flow cell count cannot exceed 10')
  .default(1);

const status = z.enum(['submitted', 'prep', 'sequencing', 'analysis', 'completed', 'archived'], {
  required_error: messages.required,
  invalid_type_error: 'Invalid status value',
});

const priority = z.enum(['low', 'normal', 'high', 'urgent'], {
  required_error: messages.required,
  invalid_type_error: 'Priority must be low, normal, high, or urgent',
}).default('normal');

const flowCellType = z.enum(['R9.4.1', 'R10.4.1', 'R10.5.1', 'Other'], {
  invalid_type_error: 'Invalid flow cell type',
}).optional();

// The cross-field rule of create; zod runs it only when no field issue
// aborted the object (type errors abort, failed checks only dirty it).
function amountsAgree(data) {
  if (data.concentration && data.volume) {
    const calculated = data.concentration * data.volume;
    if (data.totalAmount && Math.abs(calculated - data.totalAmount) > 0.001) {
      return false;
    }
  }
  return true;
}

const createInput = z.object({
  sampleName,
  projectId,
  submitterName: personName,
  submitterEmail: email,
  labName,
  sampleType,
  sampleBuffer,
  concentration,
  volume,
  totalAmount,
  flowCellType,
  flowCellCount,
  priority,
  assignedTo: personName.optional(),
  libraryPrepBy: personName.optional(),
  chartField,
}).refine(amountsAgree, {
  message: 'Total amount doesn\'t match concentration × volume',
  path: ['totalAmount'],
});

// update: every field optional and without defaults (ZodOptional returns
// undefined before the inner default runs), plus status, minus chartField.
const updateData = z.object({
  sampleName: sampleName.optional(),
  projectId: projectId.optional(),
  submitterName: personName.optional(),
  submitterEmail: email.optional(),
  labName: labName.optional(),
  sampleType: sampleType.optional(),
  sampleBuffer,
  concentration: concentration.optional(),
  volume: volume.optional(),
  totalAmount: totalAmount.optional(),
  flowCellType: flowCellType.optional(),
  flowCellCount: flowCellCount.optional(),
  status: status.optional(),
  priority: priority.optional(),
  assignedTo: personName.optional(),
  libraryPrepBy: personName.optional(),
});

// Step procedures and delete use zod's default uuid message ("Invalid uuid");
// assign and updateStatus use the custom one ("Invalid ID format").
const defaultUuid = z.string().uuid();
const customUuid = z.string().uuid(messages.uuid);

/**
 * schemas maps each dotted procedure name that declares an input to its zod
 * schema. Procedures absent from the map (health, nanopore.getAll) declare no
 * input, so tRPC never parses their input text (lazy input parsing).
 */
export const schemas = Object.freeze({
  'nanopore.create': createInput,
  'nanopore.update': z.object({ id: defaultUuid, data: updateData }),
  'nanopore.assign': z.object({
    id: customUuid,
    assignedTo: personName,
    libraryPrepBy: personName.optional(),
  }),
  'nanopore.updateStatus': z.object({ id: customUuid, status }),
  'nanopore.delete': defaultUuid,
  'nanopore.getProcessingSteps': defaultUuid,
  'nanopore.createDefaultProcessingSteps': defaultUuid,
  'nanopore.updateProcessingStep': z.object({
    stepId: defaultUuid,
    updates: z.object({
      assignedTo: z.string().optional(),
      notes: z.string().optional(),
      estimatedDurationHours: z.number().optional(),
      resultsData: z.any().optional(),
    }),
  }),
  'nanopore.startProcessingStep': z.object({
    stepId: defaultUuid,
    assignedTo: z.string().optional(),
  }),
  'nanopore.completeProcessingStep': z.object({
    stepId: defaultUuid,
    notes: z.string().optional(),
    resultsData: z.any().optional(),
  }),
});

/** procedures lists every procedure of the router with its kind (contract 4). */
export const procedures = Object.freeze({
  health: 'query',
  'nanopore.getAll': 'query',
  'nanopore.create': 'mutation',
  'nanopore.update': 'mutation',
  'nanopore.assign': 'mutation',
  'nanopore.updateStatus': 'mutation',
  'nanopore.delete': 'mutation',
  'nanopore.getProcessingSteps': 'query',
  'nanopore.createDefaultProcessingSteps': 'mutation',
  'nanopore.updateProcessingStep': 'mutation',
  'nanopore.startProcessingStep': 'mutation',
  'nanopore.completeProcessingStep': 'mutation',
});

/**
 * validate parses input the way tRPC does (parseAsync) and returns either
 * `{ok: true, data}` or `{ok: false, message, issues}`, where message is the
 * exact text tRPC puts in the error envelope (the issues as 2-space JSON).
 */
export async function validate(procedure, input) {
  const schema = schemas[procedure];
  if (!schema) {
    return { ok: true, data: undefined };
  }
  const result = await schema.safeParseAsync(input);
  if (result.success) {
    return { ok: true, data: result.data };
  }
  return { ok: false, message: result.error.message, issues: result.error.issues };
}
