/**
 * The use cases the HTTP API calls, bound once to the process's dependencies: `createServices(deps)` is built
 * with the app and handed to the route plugins and hooks, which therefore never hold a database handle.
 * Grouped by resource (`services.topics.subscribe(…)`); each function keeps its module's name so that a reader
 * finds it by grepping. Jobs and the command line call the module functions directly with their `deps`.
 */
import { adminCommands } from './admin-commands.service.ts';
import { getOverview, getSeries } from './analytics.service.ts';
import { listAuditPage, recordAudit, recordAudits } from './audit.service.ts';
import {
  authenticate,
  changeClient,
  createClient,
  getClient,
  listClientPage,
  revokeClient,
  rotateClientToken,
  rotateOwnToken,
} from './clients.service.ts';
import { discard, getDeadLetter, listDeadLetterPage, requeue } from './dead-letters.service.ts';
import type { ServiceDeps } from './deps.ts';
import { importDevices } from './device-import.service.ts';
import {
  changeDevice,
  checkInDevice,
  deleteDevice,
  getDevice,
  listDeviceDeliveryPage,
  listDevicePage,
  registerDevice,
} from './devices.service.ts';
import {
  getProject,
  listProjectPage,
  makeDefault,
  registerFirebaseProject,
  removeProject,
} from './firebase-projects.service.ts';
import {
  changeFrequencyCap,
  createFrequencyCap,
  deleteFrequencyCap,
  getFrequencyCap,
  listFrequencyCapPage,
} from './frequency-caps.service.ts';
import { createReadinessProbe } from './health.service.ts';
import { claimIdempotencyKey, finishIdempotentRequest } from './idempotency.service.ts';
import {
  cancelNotification,
  getDeliveryStatus,
  getNotification,
  listNotificationPage,
  recordReceipt,
} from './notifications.service.ts';
import { acceptBulk, acceptSend, previewSend } from './notify.service.ts';
import {
  createProfile,
  deleteProfile,
  getProfile,
  listProfilePage,
  replaceProfile,
} from './profiles.service.ts';
import { mintRegistrationToken, registerWithRegistrationToken } from './registration-tokens.service.ts';
import { purgeSoftDeleted, restoreDevice, restoreProfile } from './retention.service.ts';
import { listSandboxMessagePage, setSandboxFault } from './sandbox.service.ts';
import { changeSchedule, createSchedule, getSchedule, listSchedulePage } from './schedules.service.ts';
import { changeSettings, getSettings } from './settings.service.ts';
import {
  createTemplate,
  deleteTemplate,
  getTemplate,
  listTemplatePage,
  previewTemplate,
  replaceTemplate,
} from './templates.service.ts';
import {
  createTopic,
  deleteTopic,
  getTopic,
  listSubscriberPage,
  listTopicPage,
  replaceTopic,
  subscribe,
  unsubscribe,
} from './topics.service.ts';
import {
  createWebhook,
  deleteWebhook,
  getWebhook,
  listNotificationWebhookAttempts,
  listWebhookAttempts,
  listWebhooks,
  rotateWebhookSecret,
  sendTestEvent,
  updateWebhook,
} from './webhooks.service.ts';

/** A use case: its dependencies first (the whole ServiceDeps or the part of it it uses), then its arguments. */
type UseCase = (deps: ServiceDeps, ...args: never[]) => unknown;

/** The use cases with their first argument supplied. */
type Bound<T extends Record<string, UseCase>> = {
  [K in keyof T]: T[K] extends (deps: ServiceDeps, ...args: infer A) => infer R ? (...args: A) => R : never;
};

function bind<T extends Record<string, UseCase>>(deps: ServiceDeps, useCases: T): Bound<T> {
  return Object.fromEntries(
    Object.entries(useCases).map(([name, useCase]) => [name, (...args: never[]) => useCase(deps, ...args)]),
  ) as Bound<T>;
}

/** Binds every use case the HTTP API calls to `deps`; built once per app. */
export function createServices(deps: ServiceDeps) {
  return {
    /** The CLI's admin commands, for the internal routes of an embedded server. */
    admin: bind(deps, adminCommands),
    analytics: bind(deps, { getOverview, getSeries }),
    audit: bind(deps, { recordAudit, recordAudits, listAuditPage }),
    clients: bind(deps, {
      authenticate,
      createClient,
      listClientPage,
      getClient,
      changeClient,
      rotateClientToken,
      rotateOwnToken,
      revokeClient,
    }),
    deadLetters: bind(deps, { listDeadLetterPage, getDeadLetter, requeue, discard }),
    devices: bind(deps, {
      registerDevice,
      importDevices,
      getDevice,
      listDevicePage,
      listDeviceDeliveryPage,
      changeDevice,
      deleteDevice,
      restoreDevice,
      checkInDevice,
    }),
    frequencyCaps: bind(deps, {
      createFrequencyCap,
      getFrequencyCap,
      listFrequencyCapPage,
      changeFrequencyCap,
      deleteFrequencyCap,
    }),
    registrationTokens: bind(deps, { mintRegistrationToken, registerWithRegistrationToken }),
    firebaseProjects: bind(deps, {
      registerFirebaseProject,
      listProjectPage,
      getProject,
      makeDefault,
      removeProject,
    }),
    health: createReadinessProbe(deps),
    idempotency: bind(deps, { claimIdempotencyKey, finishIdempotentRequest }),
    notifications: bind(deps, {
      getNotification,
      listNotificationPage,
      getDeliveryStatus,
      recordReceipt,
      cancelNotification,
    }),
    notify: bind(deps, { acceptSend, acceptBulk, previewSend }),
    profiles: bind(deps, {
      createProfile,
      getProfile,
      listProfilePage,
      replaceProfile,
      deleteProfile,
      restoreProfile,
    }),
    retention: bind(deps, { purgeSoftDeleted }),
    /** What the in-process emulator received: in sandbox mode only (its route exists only then). */
    sandbox: deps.sandboxInbox ? bind(deps, { listSandboxMessagePage, setSandboxFault }) : undefined,
    schedules: bind(deps, { createSchedule, getSchedule, listSchedulePage, changeSchedule }),
    settings: bind(deps, { getSettings, changeSettings }),
    templates: bind(deps, {
      createTemplate,
      getTemplate,
      listTemplatePage,
      replaceTemplate,
      deleteTemplate,
      previewTemplate,
    }),
    topics: bind(deps, {
      createTopic,
      getTopic,
      listTopicPage,
      replaceTopic,
      deleteTopic,
      subscribe,
      unsubscribe,
      listSubscriberPage,
    }),
    webhooks: bind(deps, {
      createWebhook,
      getWebhook,
      listWebhooks,
      updateWebhook,
      deleteWebhook,
      rotateWebhookSecret,
      sendTestEvent,
      listWebhookAttempts,
      listNotificationWebhookAttempts,
    }),
    /** The live event stream's subscribers (API processes only). */
    eventStream: deps.eventStream,
  };
}

export type Services = ReturnType<typeof createServices>;
