/**
 * The platforms a device runs on: one list, from which the database column type, the services' type and the
 * API's schema are all derived, so that adding a platform is one edit here (and a renderer in push/render.ts).
 */
import { z } from 'zod';

export const PLATFORMS = ['ios', 'android', 'web'] as const;

export type Platform = (typeof PLATFORMS)[number];

export const platformSchema = z.enum(PLATFORMS);
