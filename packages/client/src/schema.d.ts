export interface paths {
    "/metrics": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Prometheus metrics of this process (text exposition format)
         * @description Loopback callers only, unless METRICS_TOKEN is set: then any caller presenting it as a bearer token. A `worker` process serves the same document on METRICS_PORT.
         */
        get: operations["getMetrics"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/health": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Liveness: 200 while the process runs (checks no dependency) */
        get: operations["getHealth"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/health/ready": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Readiness: database, queue, Redis and FCM, each with its latency
         * @description Use it to decide whether to route traffic to this process. 503 when a required dependency (database, queue) is down; 200 with status degraded when only an optional one (Redis, FCM) is, or when the queue has a backlog older than 300 s.
         */
        get: operations["getReadiness"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/firebase-projects": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List Firebase projects */
        get: operations["listFirebaseProjects"];
        put?: never;
        /** Register a Firebase service account (a known project_id replaces its key) */
        post: operations["createFirebaseProject"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/firebase-projects/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Get a Firebase project */
        get: operations["getFirebaseProject"];
        put?: never;
        post?: never;
        /** Remove a Firebase project and its credentials */
        delete: operations["deleteFirebaseProject"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/firebase-projects/{id}/default": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Make this the default project for sends */
        post: operations["setDefaultFirebaseProject"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/profiles": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List profiles */
        get: operations["listProfiles"];
        put?: never;
        /** Create a profile */
        post: operations["createProfile"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/profiles/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Get a profile */
        get: operations["getProfile"];
        /** Update a profile (fields not sent are kept) */
        put: operations["updateProfile"];
        post?: never;
        /**
         * Delete a profile (soft delete; its devices are deactivated)
         * @description The profile leaves the API and its devices stop receiving (deactivated_reason profile_deleted). POST /profiles/{id}/restore undoes it for SOFT_DELETE_RETENTION_DAYS (default 30); then the profile and its inactive devices are purged.
         */
        delete: operations["deleteProfile"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/profiles/{id}/restore": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Restore a deleted profile, and the devices its deletion deactivated
         * @description Devices deactivated for another reason (a token FCM reported dead, their own DELETE) stay as they are. 409 conflict when a live profile took its phone number or external id meanwhile, 409 not_deleted for a profile that is not deleted, 410 restore_window_passed after the retention period.
         */
        post: operations["restoreProfile"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/topics": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List topics */
        get: operations["listTopics"];
        put?: never;
        /** Create a topic */
        post: operations["createTopic"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/topics/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Get a topic */
        get: operations["getTopic"];
        /** Replace a topic (a description not sent is cleared) */
        put: operations["updateTopic"];
        post?: never;
        /** Delete a topic and its subscriptions */
        delete: operations["deleteTopic"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/topics/{id}/subscribe": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Subscribe devices, and the active devices of profiles, to a topic
         * @description Idempotent: devices already subscribed are counted, not duplicated. Unknown ids are reported under not_found and deactivated devices under inactive_device_ids; neither is an error.
         */
        post: operations["subscribeToTopic"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/topics/{id}/unsubscribe": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Unsubscribe devices, and all devices of profiles, from a topic
         * @description Deactivated devices are unsubscribed too. Unknown ids are reported under not_found, not an error.
         */
        post: operations["unsubscribeFromTopic"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/topics/{id}/subscribers": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List the active devices subscribed to a topic */
        get: operations["listTopicSubscribers"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/devices": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List devices */
        get: operations["listDevices"];
        put?: never;
        /**
         * Register a device (re-registering a known token updates that device)
         * @description The token: 8 to 4,096 characters, printable ASCII without spaces (422 validation_error otherwise). It is checked with an FCM dry run (validate_only) first: a token FCM calls unregistered or invalid is refused with 422 invalid_token and nothing is stored. When FCM cannot answer (outage, timeout, throttling) the registration is accepted. In the sandbox (the in-process FCM emulator), tokens starting with `unregistered-` or `invalid-` pass the dry run and fail at send time (UNREGISTERED, INVALID_ARGUMENT), so a dead token can be tried end to end: see GET /sandbox/messages and docs/emulator.md.
         */
        post: operations["registerDevice"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/devices/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Get a device */
        get: operations["getDevice"];
        /** Update a device (fields not sent are kept) */
        put: operations["updateDevice"];
        post?: never;
        /**
         * Delete a device: it is deactivated at once and can be restored during the retention period
         * @description Soft delete: the device stops receiving (deactivated_reason deactivated_by_client) and leaves the API; POST /devices/{id}/restore brings it back for SOFT_DELETE_RETENTION_DAYS (default 30), then it is purged with its delivery history. Registering its token again also brings it back.
         */
        delete: operations["deleteDevice"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/devices/{id}/restore": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Restore a deleted device
         * @description Active again only if its DELETE is what deactivated it: a device whose token FCM reported dead stays inactive. 410 restore_window_passed after the retention period, 409 not_deleted for a device that is not deleted.
         */
        post: operations["restoreDevice"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/notify": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Send a notification to a profile, devices, a topic or all devices (optionally filtered)
         * @description Exactly one target: phone_number, profile_id, external_id, device_ids, topic or all_devices. filters narrow the devices (platform, app version, last seen, tags, time zone, locale). Name a template with variables instead of (or under) explicit content. Accepted notifications are sent in the background; poll status_url for progress.
         */
        post: operations["sendNotification"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/notify/preview": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Render the FCM message each platform would receive, without sending
         * @description The content of a send (its content fields, or a template with variables and an optional locale) rendered and checked as POST /notify would: the FCM v1 message for Android, iOS and Web. Nothing is stored or sent. The token is a placeholder, and the receipt fields every real message carries (data.fcms_delivery_id, data.fcms_receipt) are left out. A template not found is a 404; content FCM would refuse is a 422 (413 when too large), as at send time.
         */
        post: operations["previewNotification"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/notify/topic/{topic_name}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Send to every active device subscribed to a topic
         * @description The fan-out runs as a job over the subscriptions, a page at a time, however large the topic.
         */
        post: operations["sendToTopic"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/notify/bulk": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Send one notification to up to 10,000 targets
         * @description Each target is a phone number, profile id, external id or device id, and may carry its own template variables and data. One notification id covers the whole batch; each target is resolved on its own and every target that was not accepted is listed in `rejected` with the reason (invalid, not_found, no_devices). The request fails (422) only when no target can be sent to.
         */
        post: operations["sendBulk"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/notifications": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List notifications, newest first */
        get: operations["listNotifications"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/notifications/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Get a notification */
        get: operations["getNotification"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/notifications/{id}/status": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Delivery status: counts by status and platform, and the deliveries (paginated) */
        get: operations["getNotificationStatus"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/dead-letters": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List dead letters (deliveries that failed every attempt), newest first */
        get: operations["listDeadLetters"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/dead-letters/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Get a dead letter */
        get: operations["getDeadLetter"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/dead-letters/requeue": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Send dead letters again through the normal send path
         * @description Attempts start over and the notification goes back to sending (its failed count drops by the requeued ones). Ids of other tenants, unknown ids and deliveries that are not dead are listed in skipped_ids. notification_id and all requeue up to 50,000 per call; has_more says to call again.
         */
        post: operations["requeueDeadLetters"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/dead-letters/discard": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Give dead letters up: they become failed, with their error kept */
        post: operations["discardDeadLetters"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/notify/schedule": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Schedule a send, once or recurring
         * @description The body of POST /notify plus when to send it. The send is checked now as it will be made (target, template variables, FCM limits) and nothing is sent until the first occurrence. Each occurrence is its own notification (GET /notifications?schedule_id=…).
         */
        post: operations["scheduleNotification"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/schedules": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List schedules, oldest first */
        get: operations["listSchedules"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/schedules/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Get a schedule */
        get: operations["getSchedule"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/schedules/{id}/pause": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Pause a schedule (nothing fires until it is resumed) */
        post: operations["pauseSchedule"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/schedules/{id}/resume": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Resume a paused schedule (missed occurrences are handled per its misfire_policy) */
        post: operations["resumeSchedule"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/schedules/{id}/cancel": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Cancel a schedule for good (it stays readable) */
        post: operations["cancelSchedule"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/receipts": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Report a delivery as delivered or read
         * @description Every push carries data keys fcms_delivery_id and fcms_receipt; the app posts them back here. The receipt token authenticates the report. State only moves forward (delivered → read).
         */
        post: operations["recordReceipt"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/templates": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List templates */
        get: operations["listTemplates"];
        put?: never;
        /** Create a template */
        post: operations["createTemplate"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/templates/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Get a template */
        get: operations["getTemplate"];
        /** Replace a template (fields not sent are cleared) */
        put: operations["updateTemplate"];
        post?: never;
        /** Delete a template */
        delete: operations["deleteTemplate"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/templates/{id}/preview": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Render a template with variables, as a device with the given locale would get it */
        post: operations["previewTemplate"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/analytics": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Totals over a date range, per platform and per topic
         * @description Every number of a notification counts on the UTC day it was created. Today and yesterday are computed live; older days come from the daily roll-up. See docs/analytics.md.
         */
        get: operations["getAnalytics"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/analytics/daily": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Numbers per day (UTC), zero-filled
         * @description One item per period touching the range, oldest first; periods cut by the range count only their days inside it (start, end).
         */
        get: operations["getDailyAnalytics"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/analytics/weekly": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Numbers per ISO week (Monday start), zero-filled
         * @description One item per period touching the range, oldest first; periods cut by the range count only their days inside it (start, end).
         */
        get: operations["getWeeklyAnalytics"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/analytics/monthly": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Numbers per calendar month, zero-filled
         * @description One item per period touching the range, oldest first; periods cut by the range count only their days inside it (start, end).
         */
        get: operations["getMonthlyAnalytics"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/webhooks": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List webhook endpoints */
        get: operations["listWebhooks"];
        put?: never;
        /** Register a webhook endpoint (the reply holds its signing secret, shown once) */
        post: operations["createWebhook"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/webhooks/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Get a webhook endpoint */
        get: operations["getWebhook"];
        /** Update a webhook endpoint (fields not sent are kept; is_active true resets the failure count) */
        put: operations["updateWebhook"];
        post?: never;
        /** Delete a webhook endpoint and its attempt log */
        delete: operations["deleteWebhook"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/webhooks/{id}/rotate-secret": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Replace the signing secret; the old one keeps signing alongside it for the grace period */
        post: operations["rotateWebhookSecret"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/webhooks/{id}/test": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Send a webhook.test event to this endpoint now (delivered and retried like any event) */
        post: operations["testWebhook"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/webhooks/{id}/deliveries": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The delivery attempts to this endpoint, newest first */
        get: operations["listWebhookDeliveries"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/events/stream": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Receive events live over a WebSocket
         * @description A WebSocket upgrade (GET with `Connection: Upgrade`, `Upgrade: websocket`). Authenticate with the Client-ID and Client-Token headers, or, from a browser, which cannot set headers on a WebSocket, with the subprotocols `fcms.events.v1` and `fcms.token.<client token>`: `new WebSocket(url, ['fcms.events.v1', 'fcms.token.' + token])`. Each message is one event as JSON, the same as a webhook body. A plain GET answers 426. See docs/event-stream.md.
         */
        get: operations["streamEvents"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/admin/clients": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List API clients */
        get: operations["listClients"];
        put?: never;
        /** Create an API client (a tenant); its token is in this response only */
        post: operations["createClient"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/admin/clients/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Get an API client */
        get: operations["getClient"];
        /** Update an API client (fields not sent are kept; expires_at null removes the expiry) */
        put: operations["updateClient"];
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/admin/clients/{id}/rotate": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Issue a new token; the old one keeps working for grace_seconds
         * @description Rotating during a grace period drops the older token at once. Rotating a revoked client gives it a new credential (the revoked token never works again).
         */
        post: operations["rotateClientToken"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/admin/clients/{id}/revoke": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Revoke the client’s tokens now (current and previous): 401 token_revoked */
        post: operations["revokeClient"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/clients/me": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The calling client: scopes, expiry, allowlist, rate limits */
        get: operations["getOwnClient"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/clients/me/rotate": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Rotate your own token (use grace_seconds 0 when it leaked)
         * @description Needs the current token: a rotated-out token still in its grace period answers 403 current_token_required.
         */
        post: operations["rotateOwnClientToken"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/admin/audit-logs": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The audit log of every tenant (filters: client, actor, action, target, dates) */
        get: operations["listAllAuditLogs"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/audit-logs": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Your audit log: every change made to your data, by you or an admin */
        get: operations["listAuditLogs"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/sandbox/messages": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List what the sandbox FCM emulator received for your devices
         * @description Sandbox mode only (the in-process emulator is the FCM endpoint: FCM_BASE_URL unset outside production); elsewhere this route does not exist (404). The messages sent to your own devices, newest first, each with what the emulator answered: `sent`, or the FCM error code (device tokens starting with `unregistered-` answer UNREGISTERED, `invalid-` INVALID_ARGUMENT). Token dry runs made at device registration (validate_only) are not listed. The emulator keeps its newest 10,000 messages of all tenants (token dry runs included); older ones are gone, and so is everything after a restart.
         */
        get: operations["listSandboxMessages"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
}
export type webhooks = Record<string, never>;
export interface components {
    schemas: {
        SegmentFiltersInput: {
            platforms?: ("ios" | "android" | "web")[];
            /**
             * @description A version (exact) or comparators that all hold: ">=2.3.0 <3"
             * @example >=2.3.0
             */
            app_version?: string;
            /**
             * @description Devices seen (registered or updated) within this window
             * @example 30d
             */
            last_seen_within?: string;
            /** @description At least one of these tags */
            tags_any?: string[];
            /** @description Every one of these tags */
            tags_all?: string[];
            timezones?: string[];
            /** @description A language ("pt") matches its regional variants ("pt-BR"); "pt-BR" matches only itself */
            locales?: string[];
        };
        /** @description Exactly one of phone_number, profile_id, external_id, device_id */
        BulkTargetInput: {
            phone_number?: string;
            profile_id?: string;
            external_id?: string;
            device_id?: string;
            /**
             * @description Values for the template's {{variables}}
             * @example {
             *       "name": "John"
             *     }
             */
            variables?: {
                [key: string]: string;
            };
            /**
             * @description Merged over the notification data for this target
             * @example {
             *       "order_id": "1234",
             *       "screen": "order_details"
             *     }
             */
            data?: {
                [key: string]: string;
            };
        };
        /** @description The error format of every endpoint */
        Error: {
            error: {
                /** @example validation_error */
                code: string;
                message: string;
                details: ({
                    field?: string;
                    message: string;
                } & {
                    [key: string]: unknown;
                })[];
                request_id: string;
            };
        };
        /**
         * @example {
         *       "notifications": 12,
         *       "deliveries": 1480,
         *       "sent": 1450,
         *       "delivered": 1302,
         *       "read": 417,
         *       "failed": 30,
         *       "delivery_rate": 0.8979,
         *       "read_rate": 0.3203,
         *       "avg_delivery_ms": 412.5,
         *       "p95_delivery_ms": 1180,
         *       "p95_exact": false
         *     }
         */
        AnalyticsStats: {
            /** @description Notifications created in the period; per platform, those with at least one delivery to the platform */
            notifications: number;
            /** @description Deliveries of those notifications (one per device) */
            deliveries: number;
            /** @description Deliveries FCM accepted (including delivered and read) */
            sent: number;
            /** @description Deliveries the app reported delivered (including read) */
            delivered: number;
            /** @description Deliveries the app reported read */
            read: number;
            /** @description Deliveries that failed for good (failed or dead) */
            failed: number;
            /** @description delivered / sent, null when nothing was sent */
            delivery_rate: number | null;
            /** @description read / delivered, null when nothing was delivered */
            read_rate: number | null;
            /** @description Mean of delivered_at - sent_at over delivered deliveries, in ms */
            avg_delivery_ms: number | null;
            /** @description 95th percentile of delivered_at - sent_at, in ms: exact for one day; over several days the delivered-weighted mean of the daily percentiles (see p95_exact) */
            p95_delivery_ms: number | null;
            /** @description False when p95_delivery_ms is the multi-day approximation */
            p95_exact: boolean;
        };
        /**
         * @example {
         *       "from": "2026-11-18",
         *       "to": "2026-11-24",
         *       "timezone": "UTC",
         *       "totals": {
         *         "notifications": 12,
         *         "deliveries": 1480,
         *         "sent": 1450,
         *         "delivered": 1302,
         *         "read": 417,
         *         "failed": 30,
         *         "delivery_rate": 0.8979,
         *         "read_rate": 0.3203,
         *         "avg_delivery_ms": 412.5,
         *         "p95_delivery_ms": 1180,
         *         "p95_exact": false
         *       },
         *       "by_platform": [
         *         {
         *           "platform": "android",
         *           "notifications": 12,
         *           "deliveries": 1480,
         *           "sent": 1450,
         *           "delivered": 1302,
         *           "read": 417,
         *           "failed": 30,
         *           "delivery_rate": 0.8979,
         *           "read_rate": 0.3203,
         *           "avg_delivery_ms": 412.5,
         *           "p95_delivery_ms": 1180,
         *           "p95_exact": false
         *         }
         *       ],
         *       "by_topic": [
         *         {
         *           "topic_id": "0193e1b2-7c4a-7d1e-9a51-3f2a4b5c6d7e",
         *           "topic_name": "sports.football",
         *           "notifications": 12,
         *           "deliveries": 1480,
         *           "sent": 1450,
         *           "delivered": 1302,
         *           "read": 417,
         *           "failed": 30,
         *           "delivery_rate": 0.8979,
         *           "read_rate": 0.3203,
         *           "avg_delivery_ms": 412.5,
         *           "p95_delivery_ms": 1180,
         *           "p95_exact": false
         *         }
         *       ]
         *     }
         */
        AnalyticsOverview: {
            from: string;
            to: string;
            /** @constant */
            timezone: "UTC";
            totals: components["schemas"]["AnalyticsStats"];
            by_platform: {
                /** @enum {string} */
                platform: "ios" | "android" | "web";
                /** @description Notifications created in the period; per platform, those with at least one delivery to the platform */
                notifications: number;
                /** @description Deliveries of those notifications (one per device) */
                deliveries: number;
                /** @description Deliveries FCM accepted (including delivered and read) */
                sent: number;
                /** @description Deliveries the app reported delivered (including read) */
                delivered: number;
                /** @description Deliveries the app reported read */
                read: number;
                /** @description Deliveries that failed for good (failed or dead) */
                failed: number;
                /** @description delivered / sent, null when nothing was sent */
                delivery_rate: number | null;
                /** @description read / delivered, null when nothing was delivered */
                read_rate: number | null;
                /** @description Mean of delivered_at - sent_at over delivered deliveries, in ms */
                avg_delivery_ms: number | null;
                /** @description 95th percentile of delivered_at - sent_at, in ms: exact for one day; over several days the delivered-weighted mean of the daily percentiles (see p95_exact) */
                p95_delivery_ms: number | null;
                /** @description False when p95_delivery_ms is the multi-day approximation */
                p95_exact: boolean;
            }[];
            by_topic: {
                /** @description null: sends that were not to a topic */
                topic_id: string | null;
                /** @description null for non-topic sends and deleted topics */
                topic_name: string | null;
                /** @description Notifications created in the period; per platform, those with at least one delivery to the platform */
                notifications: number;
                /** @description Deliveries of those notifications (one per device) */
                deliveries: number;
                /** @description Deliveries FCM accepted (including delivered and read) */
                sent: number;
                /** @description Deliveries the app reported delivered (including read) */
                delivered: number;
                /** @description Deliveries the app reported read */
                read: number;
                /** @description Deliveries that failed for good (failed or dead) */
                failed: number;
                /** @description delivered / sent, null when nothing was sent */
                delivery_rate: number | null;
                /** @description read / delivered, null when nothing was delivered */
                read_rate: number | null;
                /** @description Mean of delivered_at - sent_at over delivered deliveries, in ms */
                avg_delivery_ms: number | null;
                /** @description 95th percentile of delivered_at - sent_at, in ms: exact for one day; over several days the delivered-weighted mean of the daily percentiles (see p95_exact) */
                p95_delivery_ms: number | null;
                /** @description False when p95_delivery_ms is the multi-day approximation */
                p95_exact: boolean;
            }[];
        };
        /**
         * @example {
         *       "from": "2026-11-23",
         *       "to": "2026-11-24",
         *       "timezone": "UTC",
         *       "items": [
         *         {
         *           "period": "2026-11-23",
         *           "start": "2026-11-23",
         *           "end": "2026-11-23",
         *           "notifications": 12,
         *           "deliveries": 1480,
         *           "sent": 1450,
         *           "delivered": 1302,
         *           "read": 417,
         *           "failed": 30,
         *           "delivery_rate": 0.8979,
         *           "read_rate": 0.3203,
         *           "avg_delivery_ms": 412.5,
         *           "p95_delivery_ms": 1180,
         *           "p95_exact": true
         *         },
         *         {
         *           "period": "2026-11-24",
         *           "start": "2026-11-24",
         *           "end": "2026-11-24",
         *           "notifications": 12,
         *           "deliveries": 1480,
         *           "sent": 1450,
         *           "delivered": 1302,
         *           "read": 417,
         *           "failed": 30,
         *           "delivery_rate": 0.8979,
         *           "read_rate": 0.3203,
         *           "avg_delivery_ms": 412.5,
         *           "p95_delivery_ms": 1180,
         *           "p95_exact": true
         *         }
         *       ]
         *     }
         */
        AnalyticsSeries: {
            from: string;
            to: string;
            /** @constant */
            timezone: "UTC";
            items: {
                /** @description The day (2026-11-24), ISO week (2026-W48) or month (2026-11) */
                period: string;
                /** @description The period's first day inside the range */
                start: string;
                /** @description The period's last day inside the range */
                end: string;
                /** @description Notifications created in the period; per platform, those with at least one delivery to the platform */
                notifications: number;
                /** @description Deliveries of those notifications (one per device) */
                deliveries: number;
                /** @description Deliveries FCM accepted (including delivered and read) */
                sent: number;
                /** @description Deliveries the app reported delivered (including read) */
                delivered: number;
                /** @description Deliveries the app reported read */
                read: number;
                /** @description Deliveries that failed for good (failed or dead) */
                failed: number;
                /** @description delivered / sent, null when nothing was sent */
                delivery_rate: number | null;
                /** @description read / delivered, null when nothing was delivered */
                read_rate: number | null;
                /** @description Mean of delivered_at - sent_at over delivered deliveries, in ms */
                avg_delivery_ms: number | null;
                /** @description 95th percentile of delivered_at - sent_at, in ms: exact for one day; over several days the delivered-weighted mean of the daily percentiles (see p95_exact) */
                p95_delivery_ms: number | null;
                /** @description False when p95_delivery_ms is the multi-day approximation */
                p95_exact: boolean;
            }[];
        };
        /**
         * @example {
         *       "id": "1042",
         *       "client_id": "0193e1b2-7c4a-7d1e-9a51-3f2a4b5c6d7e",
         *       "actor_client_id": "0193e1b2-7c4a-7d1e-9a51-3f2a4b5c6d7e",
         *       "action": "device.delete",
         *       "target_type": "device",
         *       "target_id": "0193e1b2-8d10-7f3a-8b22-1c2d3e4f5a6b",
         *       "ip": "203.0.113.7",
         *       "request_id": "req-7f3a",
         *       "details": {
         *         "status": 204
         *       },
         *       "created_at": "2026-11-25T09:30:00.000Z"
         *     }
         */
        AuditLogEntry: {
            id: string;
            /** @description The tenant whose data changed */
            client_id: string | null;
            /** @description Who called (null: the command line) */
            actor_client_id: string | null;
            action: string;
            target_type: string | null;
            target_id: string | null;
            ip: string | null;
            request_id: string | null;
            details: {
                [key: string]: unknown;
            };
            created_at: string;
        };
        /**
         * @example {
         *       "id": "0193e1b2-7c4a-7d1e-9a51-3f2a4b5c6d7e",
         *       "name": "shop-backend",
         *       "scopes": [
         *         "send",
         *         "read"
         *       ],
         *       "status": "active",
         *       "is_active": true,
         *       "expires_at": "2027-06-30T00:00:00.000Z",
         *       "revoked_at": null,
         *       "previous_token_expires_at": null,
         *       "ip_allowlist": [
         *         "203.0.113.0/24",
         *         "2001:db8::/32"
         *       ],
         *       "rate_limits": {
         *         "send": 500
         *       },
         *       "created_at": "2026-11-25T09:30:00.000Z",
         *       "updated_at": "2026-11-25T09:30:00.000Z"
         *     }
         */
        ApiClient: {
            /** Format: uuid */
            id: string;
            name: string;
            scopes: ("send" | "read" | "manage" | "admin")[];
            /** @enum {string} */
            status: "active" | "disabled" | "revoked" | "expired";
            is_active: boolean;
            expires_at: string | null;
            revoked_at: string | null;
            /** @description While a rotation grace period runs: when the previous token stops working */
            previous_token_expires_at: string | null;
            ip_allowlist: string[];
            rate_limits: {
                [key: string]: number;
            };
            created_at: string;
            updated_at: string;
        };
        /**
         * @example {
         *       "id": "0193e1b2-7c4a-7d1e-9a51-3f2a4b5c6d7e",
         *       "name": "shop-backend",
         *       "scopes": [
         *         "send",
         *         "read"
         *       ],
         *       "status": "active",
         *       "is_active": true,
         *       "expires_at": "2027-06-30T00:00:00.000Z",
         *       "revoked_at": null,
         *       "previous_token_expires_at": null,
         *       "ip_allowlist": [
         *         "203.0.113.0/24",
         *         "2001:db8::/32"
         *       ],
         *       "rate_limits": {
         *         "send": 500
         *       },
         *       "created_at": "2026-11-25T09:30:00.000Z",
         *       "updated_at": "2026-11-25T09:30:00.000Z",
         *       "client_token": "fcms_Qm9vLXRoaXMtaXMtYW4tZXhhbXBsZS10b2tlbi0xMjM0"
         *     }
         */
        ApiClientWithToken: {
            /** Format: uuid */
            id: string;
            name: string;
            scopes: ("send" | "read" | "manage" | "admin")[];
            /** @enum {string} */
            status: "active" | "disabled" | "revoked" | "expired";
            is_active: boolean;
            expires_at: string | null;
            revoked_at: string | null;
            /** @description While a rotation grace period runs: when the previous token stops working */
            previous_token_expires_at: string | null;
            ip_allowlist: string[];
            rate_limits: {
                [key: string]: number;
            };
            created_at: string;
            updated_at: string;
            /** @description Shown only in this response: it is stored hashed */
            client_token: string;
        };
        /**
         * @example {
         *       "id": "1042",
         *       "notification_id": "0193e1b2-7c4a-7d1e-9a51-3f2a4b5c6d7e",
         *       "device_id": "0193e1b2-8d10-7f3a-8b22-1c2d3e4f5a6b",
         *       "platform": "android",
         *       "attempts": 5,
         *       "error_code": "UNAVAILABLE",
         *       "error_message": "The service is currently unavailable.",
         *       "failed_at": "2026-11-25T09:45:00.000Z",
         *       "created_at": "2026-11-25T09:30:00.000Z"
         *     }
         */
        DeadLetter: {
            id: string;
            /** Format: uuid */
            notification_id: string;
            /** Format: uuid */
            device_id: string;
            /** @enum {string} */
            platform: "ios" | "android" | "web";
            attempts: number;
            error_code: string | null;
            error_message: string | null;
            failed_at: string | null;
            created_at: string;
        };
        /**
         * @example {
         *       "requeued": 2,
         *       "notifications": 1,
         *       "skipped_ids": [],
         *       "has_more": false
         *     }
         */
        RequeueResult: {
            requeued: number;
            notifications: number;
            skipped_ids: string[];
            has_more: boolean;
        };
        /**
         * @example {
         *       "discarded": 3,
         *       "skipped_ids": []
         *     }
         */
        DiscardResult: {
            discarded: number;
            skipped_ids: string[];
        };
        /**
         * @example {
         *       "id": "0193e1b2-8d10-7f3a-8b22-1c2d3e4f5a6b",
         *       "profile_id": "0193e1b3-0a11-7c55-9e01-77aa88bb99cc",
         *       "platform": "android",
         *       "token_suffix": "Xy7_q2Lm",
         *       "app_version": "2.3.1",
         *       "os_version": "14",
         *       "model": "Pixel 8",
         *       "timezone": "Africa/Dar_es_Salaam",
         *       "locale": "sw-TZ",
         *       "tags": [
         *         "beta"
         *       ],
         *       "is_active": true,
         *       "deactivated_reason": null,
         *       "deactivated_at": null,
         *       "last_seen_at": "2026-11-25T09:30:00.000Z",
         *       "created_at": "2026-11-25T09:30:00.000Z",
         *       "updated_at": "2026-11-25T09:30:00.000Z"
         *     }
         */
        Device: {
            /** Format: uuid */
            id: string;
            profile_id: string | null;
            /** @enum {string} */
            platform: "ios" | "android" | "web";
            token_suffix: string;
            app_version: string | null;
            os_version: string | null;
            model: string | null;
            timezone: string | null;
            locale: string | null;
            tags: string[];
            is_active: boolean;
            deactivated_reason: string | null;
            deactivated_at: string | null;
            last_seen_at: string;
            created_at: string;
            updated_at: string;
        };
        /**
         * @example {
         *       "id": "0193e1b2-7c4a-7d1e-9a51-3f2a4b5c6d7e",
         *       "project_id": "my-shop-app",
         *       "client_email": "fcm-sender@my-shop-app.iam.gserviceaccount.com",
         *       "private_key_id": "3f1c2b7a9d0e4f5a6b7c8d9e0f1a2b3c4d5e6f7a",
         *       "is_default": true,
         *       "created_at": "2026-11-25T09:30:00.000Z",
         *       "updated_at": "2026-11-25T09:30:00.000Z"
         *     }
         */
        FirebaseProject: {
            /** Format: uuid */
            id: string;
            project_id: string;
            client_email: string;
            private_key_id: string | null;
            is_default: boolean;
            created_at: string;
            updated_at: string;
        };
        /**
         * @example {
         *       "status": "ok",
         *       "uptime_seconds": 3600
         *     }
         */
        Liveness: {
            /** @constant */
            status: "ok";
            uptime_seconds: number;
        };
        /**
         * @example {
         *       "status": "ok",
         *       "checks": {
         *         "database": {
         *           "status": "ok",
         *           "latency_ms": 1.2
         *         },
         *         "queue": {
         *           "status": "ok",
         *           "latency_ms": 2.1,
         *           "waiting": 0,
         *           "oldest_job_age_seconds": 0
         *         },
         *         "redis": {
         *           "status": "ok",
         *           "latency_ms": 0.6
         *         },
         *         "fcm": {
         *           "status": "ok",
         *           "latency_ms": 0.1,
         *           "cached": true
         *         },
         *         "fcm_sends": {
         *           "status": "ok",
         *           "latency_ms": 0,
         *           "circuits": []
         *         }
         *       }
         *     }
         */
        Readiness: {
            /**
             * @description down (503) when the database or the queue is down; degraded when only Redis or FCM is
             * @enum {string}
             */
            status: "ok" | "degraded" | "down";
            checks: {
                database: {
                    /** @enum {string} */
                    status: "ok" | "degraded" | "down";
                    latency_ms: number;
                    /** @description Why the check is not ok, in a few words */
                    error?: string;
                };
                queue: {
                    /** @enum {string} */
                    status: "ok" | "degraded" | "down";
                    latency_ms: number;
                    /** @description Why the check is not ok, in a few words */
                    error?: string;
                    /** @description Jobs that could run now */
                    waiting?: number;
                    /** @description How long the oldest of them has waited; degraded beyond 300 s */
                    oldest_job_age_seconds?: number;
                };
                /** @description Present when REDIS_URL is set */
                redis?: {
                    /** @enum {string} */
                    status: "ok" | "degraded" | "down";
                    latency_ms: number;
                    /** @description Why the check is not ok, in a few words */
                    error?: string;
                };
                /** @description Present when there is a server-wide service account: an access token is minted (or reused) for it */
                fcm?: {
                    /** @enum {string} */
                    status: "ok" | "degraded" | "down";
                    latency_ms: number;
                    /** @description Why the check is not ok, in a few words */
                    error?: string;
                    /** @description The result is reused (checked at most every 30 s) */
                    cached: boolean;
                };
                /** @description What this process's sends see: down when every recently used project's circuit is open, degraded when some are or failures are building up (FCM unreachable: sends wait and retry, the API keeps accepting) */
                fcm_sends: {
                    /** @enum {string} */
                    status: "ok" | "degraded" | "down";
                    latency_ms: number;
                    /** @description Why the check is not ok, in a few words */
                    error?: string;
                    /** @description Firebase projects this process sent to recently, with their circuit state */
                    circuits: {
                        project: string;
                        /** @enum {string} */
                        state: "closed" | "open" | "half_open";
                        consecutive_failures: number;
                        open_until: string | null;
                    }[];
                };
            };
        };
        /**
         * @example {
         *       "id": "0193e1b4-2b3c-7d4e-8f50-61a2b3c4d5e6",
         *       "status": "completed",
         *       "target": {
         *         "kind": "profile",
         *         "phone_number": "+255712345678",
         *         "profile_id": "0193e1b3-0a11-7c55-9e01-77aa88bb99cc"
         *       },
         *       "content": {
         *         "title": "Order Confirmed",
         *         "body": "Your order #1234 has been confirmed.",
         *         "priority": "high"
         *       },
         *       "variants": null,
         *       "template_id": null,
         *       "topic_id": null,
         *       "schedule_id": null,
         *       "occurrence_at": null,
         *       "firebase_project_id": null,
         *       "counts": {
         *         "total": 2,
         *         "sent": 2,
         *         "failed": 0,
         *         "delivered": 1,
         *         "read": 0
         *       },
         *       "error_code": null,
         *       "request_id": "req-7f3a",
         *       "created_at": "2026-11-25T09:30:00.000Z",
         *       "updated_at": "2026-11-25T09:30:00.000Z",
         *       "completed_at": "2026-11-25T09:30:00.000Z"
         *     }
         */
        Notification: {
            /** Format: uuid */
            id: string;
            /** @enum {string} */
            status: "queued" | "sending" | "completed" | "partially_failed" | "failed";
            target: {
                [key: string]: unknown;
            };
            content: {
                [key: string]: unknown;
            };
            variants: {
                [key: string]: {
                    [key: string]: unknown;
                };
            } | null;
            template_id: string | null;
            topic_id: string | null;
            schedule_id: string | null;
            occurrence_at: string | null;
            firebase_project_id: string | null;
            counts: {
                total: number;
                sent: number;
                failed: number;
                delivered: number;
                read: number;
            };
            error_code: string | null;
            request_id: string | null;
            created_at: string;
            updated_at: string;
            completed_at: string | null;
        };
        /**
         * @example {
         *       "id": "1042",
         *       "device_id": "0193e1b2-8d10-7f3a-8b22-1c2d3e4f5a6b",
         *       "platform": "android",
         *       "status": "failed",
         *       "attempts": 1,
         *       "fcm_message_id": null,
         *       "error_code": "UNREGISTERED",
         *       "error_message": "Requested entity was not found.",
         *       "sent_at": null,
         *       "delivered_at": null,
         *       "read_at": null,
         *       "failed_at": "2026-11-25T09:30:00.000Z",
         *       "next_attempt_at": null
         *     }
         */
        Delivery: {
            id: string;
            /** Format: uuid */
            device_id: string;
            /** @enum {string} */
            platform: "ios" | "android" | "web";
            /** @enum {string} */
            status: "pending" | "retrying" | "sent" | "delivered" | "read" | "failed" | "dead";
            attempts: number;
            fcm_message_id: string | null;
            error_code: string | null;
            error_message: string | null;
            sent_at: string | null;
            delivered_at: string | null;
            read_at: string | null;
            failed_at: string | null;
            next_attempt_at: string | null;
        };
        /**
         * @example {
         *       "notification_id": "0193e1b4-2b3c-7d4e-8f50-61a2b3c4d5e6",
         *       "status": "queued",
         *       "status_url": "/api/v1/notifications/0193e1b4-2b3c-7d4e-8f50-61a2b3c4d5e6/status/",
         *       "created_at": "2026-11-25T09:30:00.000Z"
         *     }
         */
        NotificationAccepted: {
            /** Format: uuid */
            notification_id: string;
            /** @example queued */
            status: string;
            status_url: string;
            created_at: string;
        };
        BulkTargetResult: {
            index: number;
            /** @enum {string} */
            status: "accepted" | "invalid" | "not_found" | "no_devices";
            reason?: string;
            details?: {
                field?: string;
                message: string;
            }[];
            /** Format: uuid */
            profile_id?: string;
            /** Format: uuid */
            device_id?: string;
            devices?: number;
        };
        /**
         * @example {
         *       "notification_id": "0193e1b4-2b3c-7d4e-8f50-61a2b3c4d5e6",
         *       "status": "queued",
         *       "status_url": "/api/v1/notifications/0193e1b4-2b3c-7d4e-8f50-61a2b3c4d5e6/status/",
         *       "created_at": "2026-11-25T09:30:00.000Z",
         *       "summary": {
         *         "targets": 2,
         *         "accepted": 2,
         *         "invalid": 0,
         *         "not_found": 0,
         *         "no_devices": 0,
         *         "devices": 2
         *       },
         *       "rejected": []
         *     }
         */
        BulkAccepted: {
            /** Format: uuid */
            notification_id: string;
            /** @example queued */
            status: string;
            status_url: string;
            created_at: string;
            summary: {
                targets: number;
                accepted: number;
                invalid: number;
                not_found: number;
                no_devices: number;
                /** @description Devices the accepted targets reach */
                devices: number;
            };
            /** @description Every target that was not accepted, with the reason */
            rejected: components["schemas"]["BulkTargetResult"][];
        };
        /**
         * @example {
         *       "id": "0193e1b3-0a11-7c55-9e01-77aa88bb99cc",
         *       "phone_number": "+255712345678",
         *       "external_id": "user-1234",
         *       "name": "Asha",
         *       "metadata": {
         *         "plan": "gold"
         *       },
         *       "created_at": "2026-11-25T09:30:00.000Z",
         *       "updated_at": "2026-11-25T09:30:00.000Z"
         *     }
         */
        Profile: {
            /** Format: uuid */
            id: string;
            phone_number: string | null;
            external_id: string | null;
            name: string | null;
            metadata: {
                [key: string]: unknown;
            };
            created_at: string;
            updated_at: string;
        };
        /**
         * @example {
         *       "id": "42",
         *       "received_at": "2026-11-25T09:30:00.120Z",
         *       "device_id": "0193e1b2-8d10-7f3a-8b22-1c2d3e4f5a6b",
         *       "notification_id": "0193e1b2-7c4a-7d1e-9a51-3f2a4b5c6d7e",
         *       "platform": "android",
         *       "message": {
         *         "token_suffix": "Xy7_q2Lm",
         *         "notification": {
         *           "title": "Your order has shipped",
         *           "body": "It arrives on Thursday."
         *         },
         *         "data": {
         *           "fcms_delivery_id": "1842",
         *           "fcms_receipt": "Zm9vYmFyYmF6cXV4"
         *         },
         *         "android": {
         *           "priority": "HIGH"
         *         }
         *       },
         *       "outcome": "sent"
         *     }
         */
        SandboxMessage: {
            /** @description The emulator's running number of the message */
            id: string;
            received_at: string;
            /** Format: uuid */
            device_id: string;
            /** @description From the receipt keys every push carries; null for a message without them */
            notification_id: string | null;
            /** @enum {string} */
            platform: "ios" | "android" | "web";
            /** @description The FCM v1 message as received, its token replaced by token_suffix (its last 8 characters) */
            message: {
                [key: string]: unknown;
            };
            /** @description The emulator's answer: sent, or the FCM error code it answered (e.g. UNREGISTERED) */
            outcome: string;
        };
        /**
         * @example {
         *       "id": "0193e1b7-5e6f-7071-b283-94d5e6f70819",
         *       "name": "weekday-digest",
         *       "status": "active",
         *       "scheduled_at": "2026-11-26T04:00:00.000Z",
         *       "recurrence": "cron",
         *       "cron": "0 7 * * MON-FRI",
         *       "timezone": "Africa/Dar_es_Salaam",
         *       "max_occurrences": null,
         *       "ends_at": null,
         *       "misfire_policy": "fire_once",
         *       "next_run_at": "2026-11-26T04:00:00.000Z",
         *       "occurrence_count": 0,
         *       "last_run_at": null,
         *       "last_notification_id": null,
         *       "request": {
         *         "topic": "sports.football",
         *         "title": "Your morning football digest",
         *         "body": "Results, fixtures and transfer news from last night."
         *       },
         *       "created_at": "2026-11-25T09:30:00.000Z",
         *       "updated_at": "2026-11-25T09:30:00.000Z"
         *     }
         */
        Schedule: {
            /**
             * Format: uuid
             * @example 0193e1b3-0a11-7c55-9e01-77aa88bb99cc
             */
            id: string;
            /** @example weekday reminder */
            name: string | null;
            /** @enum {string} */
            status: "active" | "paused" | "completed" | "cancelled";
            /** @example 2026-12-01T06:00:00.000Z */
            scheduled_at: string;
            /** @enum {string} */
            recurrence: "none" | "daily" | "weekly" | "monthly" | "cron";
            /** @example 0 9 * * MON-FRI */
            cron: string | null;
            /** @example Africa/Dar_es_Salaam */
            timezone: string;
            max_occurrences: number | null;
            ends_at: string | null;
            /** @enum {string} */
            misfire_policy: "catch_up" | "fire_once" | "skip";
            /** @description The next occurrence; null once nothing is left */
            next_run_at: string | null;
            /** @description Occurrences fired (notifications created) */
            occurrence_count: number;
            last_run_at: string | null;
            last_notification_id: string | null;
            /** @description The send, as it will be made each time */
            request: {
                [key: string]: unknown;
            };
            created_at: string;
            updated_at: string;
        };
        /**
         * @example {
         *       "id": "0193e1b6-4d5e-7f60-a172-83c4d5e6f708",
         *       "name": "order_confirmed",
         *       "description": "Sent when an order is paid",
         *       "title": "Order {{order_id}} confirmed",
         *       "body": "Hi {{name}}, your order #{{order_id}} has been confirmed.",
         *       "data": {
         *         "order_id": "{{order_id}}",
         *         "screen": "order_details"
         *       },
         *       "options": {
         *         "priority": "high",
         *         "collapse_key": "orders"
         *       },
         *       "platform_overrides": {},
         *       "locales": {
         *         "fr": {
         *           "title": "Commande {{order_id}} confirmée",
         *           "body": "Bonjour {{name}} !"
         *         }
         *       },
         *       "variables": [
         *         "name",
         *         "order_id"
         *       ],
         *       "is_active": true,
         *       "created_at": "2026-11-25T09:30:00.000Z",
         *       "updated_at": "2026-11-25T09:30:00.000Z"
         *     }
         */
        Template: {
            /** Format: uuid */
            id: string;
            /** @example order_confirmed */
            name: string;
            description: string | null;
            /** @example Order {{order_id}} confirmed */
            title: string | null;
            body: string | null;
            data: {
                [key: string]: string;
            };
            /** @description The other content fields of a send, as in POST /notify (not templated) */
            options: {
                /**
                 * Format: uri
                 * @example https://example.com/image.png
                 */
                image_url?: string;
                sound?: string;
                badge?: number;
                /** @enum {string} */
                priority?: "high" | "normal";
                /** @description How long FCM keeps the message for an offline device (max 28 days) */
                ttl_seconds?: number;
                /**
                 * @description Groups messages: android collapse_key, apns-collapse-id, web push Topic
                 * @example order_updates
                 */
                collapse_key?: string;
                android_channel_id?: string;
                /** @description Android intent action on tap; the APNs category on iOS */
                click_action?: string;
                /**
                 * Format: uri
                 * @description Deep link / URL opened on tap (web push fcm_options.link; passed to apps as data)
                 */
                link?: string;
                analytics_label?: string;
                /** @description Data-only (background) push: no visible notification */
                silent?: boolean;
            };
            /**
             * @description Raw FCM v1 android / apns / webpush blocks merged into the message; placeholders in their strings are filled in
             * @example {
             *       "android": {
             *         "notification": {
             *           "tag": "order-{{order_id}}"
             *         }
             *       }
             *     }
             */
            platform_overrides: {
                android?: {
                    [key: string]: unknown;
                };
                apns?: {
                    [key: string]: unknown;
                };
                webpush?: {
                    [key: string]: unknown;
                };
            };
            locales: {
                [key: string]: {
                    /** @example Order Confirmed */
                    title?: string;
                    /** @example Your order #1234 has been confirmed. */
                    body?: string;
                    /**
                     * @description Key/value pairs delivered to the app; values are strings and may hold placeholders
                     * @example {
                     *       "order_id": "{{order_id}}",
                     *       "screen": "order_details"
                     *     }
                     */
                    data?: {
                        [key: string]: string;
                    };
                };
            };
            /**
             * @description Every placeholder name the template uses, sorted
             * @example [
             *       "name",
             *       "order_id"
             *     ]
             */
            variables: string[];
            is_active: boolean;
            created_at: string;
            updated_at: string;
        };
        /**
         * @description The content of a send, in API names
         * @example {
         *       "title": "Commande 1234 confirmée",
         *       "body": "Bonjour Asha !",
         *       "data": {
         *         "order_id": "1234",
         *         "screen": "order_details"
         *       },
         *       "priority": "high",
         *       "collapse_key": "orders"
         *     }
         */
        RenderedTemplate: {
            title?: string;
            body?: string;
            data?: {
                [key: string]: string;
            };
            /**
             * Format: uri
             * @example https://example.com/image.png
             */
            image_url?: string;
            sound?: string;
            badge?: number;
            /** @enum {string} */
            priority?: "high" | "normal";
            /** @description How long FCM keeps the message for an offline device (max 28 days) */
            ttl_seconds?: number;
            /**
             * @description Groups messages: android collapse_key, apns-collapse-id, web push Topic
             * @example order_updates
             */
            collapse_key?: string;
            android_channel_id?: string;
            /** @description Android intent action on tap; the APNs category on iOS */
            click_action?: string;
            /**
             * Format: uri
             * @description Deep link / URL opened on tap (web push fcm_options.link; passed to apps as data)
             */
            link?: string;
            analytics_label?: string;
            /** @description Data-only (background) push: no visible notification */
            silent?: boolean;
            /**
             * @description Raw FCM v1 android / apns / webpush blocks merged into the message; placeholders in their strings are filled in
             * @example {
             *       "android": {
             *         "notification": {
             *           "tag": "order-{{order_id}}"
             *         }
             *       }
             *     }
             */
            platform_overrides?: {
                android?: {
                    [key: string]: unknown;
                };
                apns?: {
                    [key: string]: unknown;
                };
                webpush?: {
                    [key: string]: unknown;
                };
            };
        };
        /**
         * @example {
         *       "id": "0193e1b5-3c4d-7e5f-9061-72b3c4d5e6f7",
         *       "name": "sports.football",
         *       "description": "Football scores and match alerts",
         *       "subscriber_count": 1250,
         *       "created_at": "2026-11-25T09:30:00.000Z",
         *       "updated_at": "2026-11-25T09:30:00.000Z"
         *     }
         */
        Topic: {
            /** Format: uuid */
            id: string;
            /** @example sports.football */
            name: string;
            /** @example Football scores and match alerts */
            description: string | null;
            /** @description Active, not-deleted devices subscribed */
            subscriber_count: number;
            created_at: string;
            updated_at: string;
        };
        /** @description Given ids the tenant has no (or no longer any) device or profile for: nothing was done for them */
        TopicMembersNotFound: {
            device_ids: string[];
            profile_ids: string[];
        };
        /**
         * @example {
         *       "subscribed": 2,
         *       "already_subscribed": 1,
         *       "not_found": {
         *         "device_ids": [
         *           "01a212bb-37a6-777f-9db8-f27ee71d0fe4"
         *         ],
         *         "profile_ids": []
         *       },
         *       "inactive_device_ids": []
         *     }
         */
        TopicSubscribeResult: {
            /** @description Devices newly subscribed */
            subscribed: number;
            /** @description Devices that were subscribed already */
            already_subscribed: number;
            not_found: components["schemas"]["TopicMembersNotFound"];
            /** @description Given device_ids of deactivated devices: not subscribed (a profile stands only for its active devices) */
            inactive_device_ids: string[];
        };
        /**
         * @example {
         *       "unsubscribed": 2,
         *       "not_subscribed": 0,
         *       "not_found": {
         *         "device_ids": [],
         *         "profile_ids": []
         *       }
         *     }
         */
        TopicUnsubscribeResult: {
            /** @description Subscriptions removed */
            unsubscribed: number;
            /** @description Devices that were not subscribed */
            not_subscribed: number;
            not_found: components["schemas"]["TopicMembersNotFound"];
        };
        /**
         * @example {
         *       "device_id": "0193e1b2-8d10-7f3a-8b22-1c2d3e4f5a6b",
         *       "profile_id": "0193e1b3-0a11-7c55-9e01-77aa88bb99cc",
         *       "platform": "android",
         *       "subscribed_at": "2026-11-25T09:30:00.000Z"
         *     }
         */
        TopicSubscriber: {
            /** Format: uuid */
            device_id: string;
            profile_id: string | null;
            /** @enum {string} */
            platform: "ios" | "android" | "web";
            subscribed_at: string;
        };
        /**
         * @example {
         *       "id": "0193e1b8-6f70-7182-8394-a5e6f708192a",
         *       "url": "https://api.example.com/hooks/fcm",
         *       "description": "Delivery reports for the order service",
         *       "event_types": [
         *         "notification.failed",
         *         "notification.read"
         *       ],
         *       "is_active": true,
         *       "disabled_reason": null,
         *       "disabled_at": null,
         *       "consecutive_failures": 0,
         *       "last_success_at": null,
         *       "last_failure_at": null,
         *       "previous_secret_expires_at": null,
         *       "created_at": "2026-11-25T09:30:00.000Z",
         *       "updated_at": "2026-11-25T09:30:00.000Z"
         *     }
         */
        Webhook: {
            /**
             * Format: uuid
             * @example 0193e1b2-7c4a-7d1e-9a51-3f2a4b5c6d7e
             */
            id: string;
            /** @example https://api.example.com/hooks/fcm */
            url: string;
            description: string | null;
            /**
             * @example [
             *       "notification.failed",
             *       "notification.read"
             *     ]
             */
            event_types: string[];
            is_active: boolean;
            /** @description consecutive_failures (switched off by the server) or disabled_by_client */
            disabled_reason: string | null;
            disabled_at: string | null;
            consecutive_failures: number;
            last_success_at: string | null;
            last_failure_at: string | null;
            /** @description Until then messages carry a second signature made with the secret before the last rotation */
            previous_secret_expires_at: string | null;
            created_at: string;
            updated_at: string;
        };
        /**
         * @example {
         *       "id": "0193e1b8-6f70-7182-8394-a5e6f708192a",
         *       "url": "https://api.example.com/hooks/fcm",
         *       "description": "Delivery reports for the order service",
         *       "event_types": [
         *         "notification.failed",
         *         "notification.read"
         *       ],
         *       "is_active": true,
         *       "disabled_reason": null,
         *       "disabled_at": null,
         *       "consecutive_failures": 0,
         *       "last_success_at": null,
         *       "last_failure_at": null,
         *       "previous_secret_expires_at": null,
         *       "created_at": "2026-11-25T09:30:00.000Z",
         *       "updated_at": "2026-11-25T09:30:00.000Z",
         *       "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw0C7hxqVqXDk="
         *     }
         */
        WebhookWithSecret: {
            /**
             * Format: uuid
             * @example 0193e1b2-7c4a-7d1e-9a51-3f2a4b5c6d7e
             */
            id: string;
            /** @example https://api.example.com/hooks/fcm */
            url: string;
            description: string | null;
            /**
             * @example [
             *       "notification.failed",
             *       "notification.read"
             *     ]
             */
            event_types: string[];
            is_active: boolean;
            /** @description consecutive_failures (switched off by the server) or disabled_by_client */
            disabled_reason: string | null;
            disabled_at: string | null;
            consecutive_failures: number;
            last_success_at: string | null;
            last_failure_at: string | null;
            /** @description Until then messages carry a second signature made with the secret before the last rotation */
            previous_secret_expires_at: string | null;
            created_at: string;
            updated_at: string;
            /**
             * @description The signing secret (Standard Webhooks whsec_ format). Shown in this reply only: store it now
             * @example whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw0C7hxqVqXDk=
             */
            secret: string;
        };
        /**
         * @example {
         *       "id": "1042",
         *       "event_id": "evt_0193e1b27c4a7d1e9a513f2a4b5c6d7e",
         *       "event_type": "notification.failed",
         *       "attempt": 2,
         *       "status": "failed",
         *       "response_status": 503,
         *       "error": "HTTP 503: upstream unavailable",
         *       "duration_ms": 182,
         *       "next_attempt_at": "2026-11-25T09:32:00.000Z",
         *       "created_at": "2026-11-25T09:30:00.000Z"
         *     }
         */
        WebhookAttempt: {
            /** @example 1042 */
            id: string;
            /** @example evt_0193e1b27c4a7d1e9a513f2a4b5c6d7e */
            event_id: string;
            /** @example notification.sent */
            event_type: string;
            /** @example 1 */
            attempt: number;
            /**
             * @description failed: another attempt follows at next_attempt_at; exhausted: none follows
             * @enum {string}
             */
            status: "succeeded" | "failed" | "exhausted";
            /** @example 503 */
            response_status: number | null;
            /** @example HTTP 503: upstream unavailable */
            error: string | null;
            duration_ms: number | null;
            next_attempt_at: string | null;
            created_at: string;
        };
        /**
         * @example {
         *       "messages": {
         *         "android": {
         *           "token": "<device token>",
         *           "notification": {
         *             "title": "Order Confirmed",
         *             "body": "Your order #1234 has been confirmed."
         *           },
         *           "android": {
         *             "priority": "HIGH"
         *           }
         *         },
         *         "ios": {
         *           "token": "<device token>",
         *           "notification": {
         *             "title": "Order Confirmed",
         *             "body": "Your order #1234 has been confirmed."
         *           },
         *           "apns": {
         *             "headers": {
         *               "apns-priority": "10"
         *             }
         *           }
         *         },
         *         "web": {
         *           "token": "<device token>",
         *           "notification": {
         *             "title": "Order Confirmed",
         *             "body": "Your order #1234 has been confirmed."
         *           },
         *           "webpush": {
         *             "headers": {
         *               "Urgency": "high"
         *             }
         *           }
         *         }
         *       }
         *     }
         */
        NotificationPreview: {
            messages: {
                android: {
                    [key: string]: unknown;
                };
                ios: {
                    [key: string]: unknown;
                };
                web: {
                    [key: string]: unknown;
                };
            };
        };
    };
    responses: never;
    parameters: never;
    requestBodies: never;
    headers: never;
    pathItems: never;
}
export type $defs = Record<string, never>;
export interface operations {
    getMetrics: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The metrics, in the Prometheus text format */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/plain": string;
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getHealth: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Liveness"];
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getReadiness: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Readiness"];
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Readiness"];
                };
            };
        };
    };
    listFirebaseProjects: {
        parameters: {
            query?: {
                /** @description Page size (1-200) */
                limit?: number;
                /** @description next_cursor of the previous page */
                cursor?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["FirebaseProject"][];
                        next_cursor: string | null;
                    };
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    createFirebaseProject: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "service_account": {
                 *         "type": "service_account",
                 *         "project_id": "my-shop-app",
                 *         "private_key_id": "3f1c2b7a9d0e4f5a6b7c8d9e0f1a2b3c4d5e6f7a",
                 *         "private_key": "-----BEGIN PRIVATE KEY-----\n(the key from the file)\n-----END PRIVATE KEY-----\n",
                 *         "client_email": "fcm-sender@my-shop-app.iam.gserviceaccount.com",
                 *         "token_uri": "https://oauth2.googleapis.com/token"
                 *       }
                 *     }
                 */
                "application/json": {
                    /** @description The service-account key JSON downloaded from the Firebase console */
                    service_account: {
                        [key: string]: unknown;
                    };
                    is_default?: boolean;
                };
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["FirebaseProject"];
                };
            };
            /** @description Default Response */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["FirebaseProject"];
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getFirebaseProject: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["FirebaseProject"];
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    deleteFirebaseProject: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    setDefaultFirebaseProject: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["FirebaseProject"];
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listProfiles: {
        parameters: {
            query?: {
                /** @description Page size (1-200) */
                limit?: number;
                /** @description next_cursor of the previous page */
                cursor?: string;
                phone_number?: string;
                external_id?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["Profile"][];
                        next_cursor: string | null;
                    };
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    createProfile: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "phone_number": "+255712345678",
                 *       "external_id": "user-1234",
                 *       "name": "Asha",
                 *       "metadata": {
                 *         "plan": "gold"
                 *       }
                 *     }
                 */
                "application/json": {
                    /** @example +255712345678 */
                    phone_number?: string | null;
                    /** @example user-1234 */
                    external_id?: string | null;
                    name?: string | null;
                    metadata?: {
                        [key: string]: unknown;
                    };
                };
            };
        };
        responses: {
            /** @description Default Response */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Profile"];
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getProfile: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Profile"];
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    updateProfile: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "name": "Asha Mwangi",
                 *       "metadata": {
                 *         "plan": "platinum"
                 *       }
                 *     }
                 */
                "application/json": {
                    /** @example +255712345678 */
                    phone_number?: string | null;
                    /** @example user-1234 */
                    external_id?: string | null;
                    name?: string | null;
                    metadata?: {
                        [key: string]: unknown;
                    };
                };
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Profile"];
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    deleteProfile: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    restoreProfile: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Profile"];
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            410: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listTopics: {
        parameters: {
            query?: {
                /** @description Page size (1-200) */
                limit?: number;
                /** @description next_cursor of the previous page */
                cursor?: string;
                /** @description Only topics whose name starts with this */
                name_prefix?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["Topic"][];
                        next_cursor: string | null;
                    };
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    createTopic: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "name": "sports.football",
                 *       "description": "Football scores and match alerts"
                 *     }
                 */
                "application/json": {
                    /** @example sports.football */
                    name: string;
                    /** @example Football scores and match alerts */
                    description?: string | null;
                };
            };
        };
        responses: {
            /** @description Default Response */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Topic"];
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getTopic: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Topic"];
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    updateTopic: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "name": "sports.football",
                 *       "description": "Scores, line-ups and match alerts"
                 *     }
                 */
                "application/json": {
                    /** @example sports.football */
                    name: string;
                    /** @example Football scores and match alerts */
                    description?: string | null;
                };
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Topic"];
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    deleteTopic: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    subscribeToTopic: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        /** @description device_ids and/or profile_ids: at least one id, at most 1000 together */
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "device_ids": [
                 *         "0193e1b2-8d10-7f3a-8b22-1c2d3e4f5a6b"
                 *       ],
                 *       "profile_ids": [
                 *         "0193e1b3-0a11-7c55-9e01-77aa88bb99cc"
                 *       ]
                 *     }
                 */
                "application/json": {
                    /**
                     * @description Devices, by id
                     * @example [
                     *       "0193e1b2-8d10-7f3a-8b22-1c2d3e4f5a6b"
                     *     ]
                     */
                    device_ids?: string[];
                    /**
                     * @description Profiles, by id: stands for the devices of each profile
                     * @example [
                     *       "0193e1b2-8d10-7f3a-8b22-1c2d3e4f5a6b"
                     *     ]
                     */
                    profile_ids?: string[];
                };
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TopicSubscribeResult"];
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    unsubscribeFromTopic: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        /** @description device_ids and/or profile_ids: at least one id, at most 1000 together */
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "device_ids": [
                 *         "0193e1b2-8d10-7f3a-8b22-1c2d3e4f5a6b"
                 *       ]
                 *     }
                 */
                "application/json": {
                    /**
                     * @description Devices, by id
                     * @example [
                     *       "0193e1b2-8d10-7f3a-8b22-1c2d3e4f5a6b"
                     *     ]
                     */
                    device_ids?: string[];
                    /**
                     * @description Profiles, by id: stands for the devices of each profile
                     * @example [
                     *       "0193e1b2-8d10-7f3a-8b22-1c2d3e4f5a6b"
                     *     ]
                     */
                    profile_ids?: string[];
                };
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TopicUnsubscribeResult"];
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listTopicSubscribers: {
        parameters: {
            query?: {
                /** @description Page size (1-200) */
                limit?: number;
                /** @description next_cursor of the previous page */
                cursor?: string;
            };
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["TopicSubscriber"][];
                        next_cursor: string | null;
                    };
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listDevices: {
        parameters: {
            query?: {
                /** @description Page size (1-200) */
                limit?: number;
                /** @description next_cursor of the previous page */
                cursor?: string;
                platform?: "ios" | "android" | "web";
                active?: "true" | "false";
                profile_id?: string;
                tag?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["Device"][];
                        next_cursor: string | null;
                    };
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    registerDevice: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "platform": "android",
                 *       "token": "dQw4w9WgXcQ:APA91bHun4MxP5egoKMwt2KZFBaFUH-1RYqx_Xy7_q2Lm",
                 *       "phone_number": "+255712345678",
                 *       "app_version": "2.3.1",
                 *       "os_version": "14",
                 *       "model": "Pixel 8",
                 *       "timezone": "Africa/Dar_es_Salaam",
                 *       "locale": "sw-TZ",
                 *       "tags": [
                 *         "beta"
                 *       ]
                 *     }
                 */
                "application/json": {
                    /** @enum {string} */
                    platform: "ios" | "android" | "web";
                    /** @description The FCM registration token: 8 to 4,096 characters, printable ASCII without spaces */
                    token: string;
                    /** Format: uuid */
                    profile_id?: string;
                    /** @example +255712345678 */
                    phone_number?: string;
                    external_id?: string;
                    /** @example 2.3.1 */
                    app_version?: string | null;
                    os_version?: string | null;
                    model?: string | null;
                    timezone?: string | null;
                    locale?: string | null;
                    tags?: string[];
                };
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Device"];
                };
            };
            /** @description Default Response */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Device"];
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getDevice: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Device"];
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    updateDevice: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "app_version": "2.4.0",
                 *       "tags": [
                 *         "beta",
                 *         "vip"
                 *       ]
                 *     }
                 */
                "application/json": {
                    /** @enum {string} */
                    platform?: "ios" | "android" | "web";
                    /** @description The FCM registration token: 8 to 4,096 characters, printable ASCII without spaces */
                    token?: string;
                    /** Format: uuid */
                    profile_id?: string;
                    /** @example +255712345678 */
                    phone_number?: string;
                    external_id?: string;
                    /** @example 2.3.1 */
                    app_version?: string | null;
                    os_version?: string | null;
                    model?: string | null;
                    timezone?: string | null;
                    locale?: string | null;
                    tags?: string[];
                };
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Device"];
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    deleteDevice: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    restoreDevice: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Device"];
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            410: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    sendNotification: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes retries safe: the first response to a key is replayed for 24 hours */
                "idempotency-key"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "phone_number": "+255712345678",
                 *       "title": "Order Confirmed",
                 *       "body": "Your order #1234 has been confirmed.",
                 *       "data": {
                 *         "order_id": "1234",
                 *         "screen": "order_details"
                 *       }
                 *     }
                 */
                "application/json": {
                    /** @example +255712345678 */
                    phone_number?: string;
                    /** Format: uuid */
                    profile_id?: string;
                    external_id?: string;
                    device_ids?: string[];
                    /** @description Every active device subscribed to this topic (by name) */
                    topic?: string;
                    /**
                     * @description Every active device of the tenant (narrow it with filters)
                     * @enum {boolean}
                     */
                    all_devices?: true;
                    /** @example Order Confirmed */
                    title?: string;
                    /** @example Your order #1234 has been confirmed. */
                    body?: string;
                    /**
                     * @description Custom key/value pairs delivered to the app (values are strings, as FCM requires)
                     * @example {
                     *       "order_id": "1234",
                     *       "screen": "order_details"
                     *     }
                     */
                    data?: {
                        [key: string]: string;
                    };
                    /**
                     * @description high (default): delivered immediately, may wake the device; normal: may be batched
                     * @enum {string}
                     */
                    priority?: "high" | "normal";
                    /** @description How long FCM keeps the message for an offline device (max 28 days) */
                    ttl_seconds?: number;
                    /**
                     * Format: uri
                     * @example https://example.com/image.png
                     */
                    image_url?: string;
                    /**
                     * @description Groups messages: android collapse_key, apns-collapse-id, web push Topic
                     * @example order_updates
                     */
                    collapse_key?: string;
                    /** @description Data-only (background) push: no visible notification */
                    silent?: boolean;
                    sound?: string;
                    badge?: number;
                    android_channel_id?: string;
                    /** @description Android intent action on tap; the APNs category on iOS */
                    click_action?: string;
                    /**
                     * Format: uri
                     * @description Deep link / URL opened on tap (web push fcm_options.link; passed to apps as data)
                     */
                    link?: string;
                    /** @description Action buttons: web push notification.actions; on Android and iOS passed to the app as data (fcms_actions, JSON) because FCM has no cross-platform action field */
                    actions?: {
                        id: string;
                        title: string;
                        /** Format: uri */
                        link?: string;
                        /** Format: uri */
                        icon?: string;
                    }[];
                    analytics_label?: string;
                    /** @description Raw FCM v1 android / apns / webpush fields merged over the rendered message */
                    platform_overrides?: {
                        android?: {
                            [key: string]: unknown;
                        };
                        apns?: {
                            [key: string]: unknown;
                        };
                        webpush?: {
                            [key: string]: unknown;
                        };
                    };
                    /**
                     * Format: uuid
                     * @description Send through this Firebase project instead of the default
                     */
                    firebase_project_id?: string;
                    /** @description Template name or id; explicit content fields override the template */
                    template?: string;
                    /**
                     * @description Values for the template's {{variables}}
                     * @example {
                     *       "name": "John"
                     *     }
                     */
                    variables?: {
                        [key: string]: string;
                    };
                    filters?: components["schemas"]["SegmentFiltersInput"];
                };
            };
        };
        responses: {
            /** @description Default Response */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["NotificationAccepted"];
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    previewNotification: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "title": "Order Confirmed",
                 *       "body": "Your order #1234 has been confirmed.",
                 *       "priority": "high"
                 *     }
                 */
                "application/json": {
                    /** @example Order Confirmed */
                    title?: string;
                    /** @example Your order #1234 has been confirmed. */
                    body?: string;
                    /**
                     * @description Custom key/value pairs delivered to the app (values are strings, as FCM requires)
                     * @example {
                     *       "order_id": "1234",
                     *       "screen": "order_details"
                     *     }
                     */
                    data?: {
                        [key: string]: string;
                    };
                    /**
                     * @description high (default): delivered immediately, may wake the device; normal: may be batched
                     * @enum {string}
                     */
                    priority?: "high" | "normal";
                    /** @description How long FCM keeps the message for an offline device (max 28 days) */
                    ttl_seconds?: number;
                    /**
                     * Format: uri
                     * @example https://example.com/image.png
                     */
                    image_url?: string;
                    /**
                     * @description Groups messages: android collapse_key, apns-collapse-id, web push Topic
                     * @example order_updates
                     */
                    collapse_key?: string;
                    /** @description Data-only (background) push: no visible notification */
                    silent?: boolean;
                    sound?: string;
                    badge?: number;
                    android_channel_id?: string;
                    /** @description Android intent action on tap; the APNs category on iOS */
                    click_action?: string;
                    /**
                     * Format: uri
                     * @description Deep link / URL opened on tap (web push fcm_options.link; passed to apps as data)
                     */
                    link?: string;
                    /** @description Action buttons: web push notification.actions; on Android and iOS passed to the app as data (fcms_actions, JSON) because FCM has no cross-platform action field */
                    actions?: {
                        id: string;
                        title: string;
                        /** Format: uri */
                        link?: string;
                        /** Format: uri */
                        icon?: string;
                    }[];
                    analytics_label?: string;
                    /** @description Raw FCM v1 android / apns / webpush fields merged over the rendered message */
                    platform_overrides?: {
                        android?: {
                            [key: string]: unknown;
                        };
                        apns?: {
                            [key: string]: unknown;
                        };
                        webpush?: {
                            [key: string]: unknown;
                        };
                    };
                    /**
                     * Format: uuid
                     * @description Send through this Firebase project instead of the default
                     */
                    firebase_project_id?: string;
                    /** @description Template name or id; explicit content fields override the template */
                    template?: string;
                    /**
                     * @description Values for the template's {{variables}}
                     * @example {
                     *       "name": "John"
                     *     }
                     */
                    variables?: {
                        [key: string]: string;
                    };
                    /**
                     * @description A device locale, to pick the template's variant: exact, else its language, else the default
                     * @example fr-CA
                     */
                    locale?: string;
                };
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["NotificationPreview"];
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    sendToTopic: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes retries safe: the first response to a key is replayed for 24 hours */
                "idempotency-key"?: string;
            };
            path: {
                topic_name: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "title": "Goal! Simba 1-0 Yanga",
                 *       "body": "Kibu Denis scores in the 23rd minute.",
                 *       "data": {
                 *         "match_id": "8812"
                 *       }
                 *     }
                 */
                "application/json": {
                    /** @example Order Confirmed */
                    title?: string;
                    /** @example Your order #1234 has been confirmed. */
                    body?: string;
                    /**
                     * @description Custom key/value pairs delivered to the app (values are strings, as FCM requires)
                     * @example {
                     *       "order_id": "1234",
                     *       "screen": "order_details"
                     *     }
                     */
                    data?: {
                        [key: string]: string;
                    };
                    /**
                     * @description high (default): delivered immediately, may wake the device; normal: may be batched
                     * @enum {string}
                     */
                    priority?: "high" | "normal";
                    /** @description How long FCM keeps the message for an offline device (max 28 days) */
                    ttl_seconds?: number;
                    /**
                     * Format: uri
                     * @example https://example.com/image.png
                     */
                    image_url?: string;
                    /**
                     * @description Groups messages: android collapse_key, apns-collapse-id, web push Topic
                     * @example order_updates
                     */
                    collapse_key?: string;
                    /** @description Data-only (background) push: no visible notification */
                    silent?: boolean;
                    sound?: string;
                    badge?: number;
                    android_channel_id?: string;
                    /** @description Android intent action on tap; the APNs category on iOS */
                    click_action?: string;
                    /**
                     * Format: uri
                     * @description Deep link / URL opened on tap (web push fcm_options.link; passed to apps as data)
                     */
                    link?: string;
                    /** @description Action buttons: web push notification.actions; on Android and iOS passed to the app as data (fcms_actions, JSON) because FCM has no cross-platform action field */
                    actions?: {
                        id: string;
                        title: string;
                        /** Format: uri */
                        link?: string;
                        /** Format: uri */
                        icon?: string;
                    }[];
                    analytics_label?: string;
                    /** @description Raw FCM v1 android / apns / webpush fields merged over the rendered message */
                    platform_overrides?: {
                        android?: {
                            [key: string]: unknown;
                        };
                        apns?: {
                            [key: string]: unknown;
                        };
                        webpush?: {
                            [key: string]: unknown;
                        };
                    };
                    /**
                     * Format: uuid
                     * @description Send through this Firebase project instead of the default
                     */
                    firebase_project_id?: string;
                    /** @description Template name or id; explicit content fields override the template */
                    template?: string;
                    /**
                     * @description Values for the template's {{variables}}
                     * @example {
                     *       "name": "John"
                     *     }
                     */
                    variables?: {
                        [key: string]: string;
                    };
                    filters?: components["schemas"]["SegmentFiltersInput"];
                };
            };
        };
        responses: {
            /** @description Default Response */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["NotificationAccepted"];
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    sendBulk: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes retries safe: the first response to a key is replayed for 24 hours */
                "idempotency-key"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "template": "order_confirmed",
                 *       "targets": [
                 *         {
                 *           "phone_number": "+255712345678",
                 *           "variables": {
                 *             "order_id": "1234",
                 *             "name": "Asha"
                 *           }
                 *         },
                 *         {
                 *           "device_id": "0193e1b2-8d10-7f3a-8b22-1c2d3e4f5a6b",
                 *           "variables": {
                 *             "order_id": "1235",
                 *             "name": "Juma"
                 *           }
                 *         }
                 *       ]
                 *     }
                 */
                "application/json": {
                    targets: components["schemas"]["BulkTargetInput"][];
                    /** @example Order Confirmed */
                    title?: string;
                    /** @example Your order #1234 has been confirmed. */
                    body?: string;
                    /**
                     * @description Custom key/value pairs delivered to the app (values are strings, as FCM requires)
                     * @example {
                     *       "order_id": "1234",
                     *       "screen": "order_details"
                     *     }
                     */
                    data?: {
                        [key: string]: string;
                    };
                    /**
                     * @description high (default): delivered immediately, may wake the device; normal: may be batched
                     * @enum {string}
                     */
                    priority?: "high" | "normal";
                    /** @description How long FCM keeps the message for an offline device (max 28 days) */
                    ttl_seconds?: number;
                    /**
                     * Format: uri
                     * @example https://example.com/image.png
                     */
                    image_url?: string;
                    /**
                     * @description Groups messages: android collapse_key, apns-collapse-id, web push Topic
                     * @example order_updates
                     */
                    collapse_key?: string;
                    /** @description Data-only (background) push: no visible notification */
                    silent?: boolean;
                    sound?: string;
                    badge?: number;
                    android_channel_id?: string;
                    /** @description Android intent action on tap; the APNs category on iOS */
                    click_action?: string;
                    /**
                     * Format: uri
                     * @description Deep link / URL opened on tap (web push fcm_options.link; passed to apps as data)
                     */
                    link?: string;
                    /** @description Action buttons: web push notification.actions; on Android and iOS passed to the app as data (fcms_actions, JSON) because FCM has no cross-platform action field */
                    actions?: {
                        id: string;
                        title: string;
                        /** Format: uri */
                        link?: string;
                        /** Format: uri */
                        icon?: string;
                    }[];
                    analytics_label?: string;
                    /** @description Raw FCM v1 android / apns / webpush fields merged over the rendered message */
                    platform_overrides?: {
                        android?: {
                            [key: string]: unknown;
                        };
                        apns?: {
                            [key: string]: unknown;
                        };
                        webpush?: {
                            [key: string]: unknown;
                        };
                    };
                    /**
                     * Format: uuid
                     * @description Send through this Firebase project instead of the default
                     */
                    firebase_project_id?: string;
                    /** @description Template name or id; explicit content fields override the template */
                    template?: string;
                    /**
                     * @description Values for the template's {{variables}}
                     * @example {
                     *       "name": "John"
                     *     }
                     */
                    variables?: {
                        [key: string]: string;
                    };
                    filters?: components["schemas"]["SegmentFiltersInput"];
                };
            };
        };
        responses: {
            /** @description Default Response */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["BulkAccepted"];
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listNotifications: {
        parameters: {
            query?: {
                /** @description Page size (1-200) */
                limit?: number;
                /** @description next_cursor of the previous page */
                cursor?: string;
                status?: "queued" | "sending" | "completed" | "partially_failed" | "failed";
                created_from?: string;
                created_to?: string;
                topic_id?: string;
                template_id?: string;
                schedule_id?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["Notification"][];
                        next_cursor: string | null;
                    };
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getNotification: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Notification"];
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getNotificationStatus: {
        parameters: {
            query?: {
                /** @description Page size (1-200) */
                limit?: number;
                /** @description next_cursor of the previous page */
                cursor?: string;
                status?: "pending" | "retrying" | "sent" | "delivered" | "read" | "failed" | "dead";
            };
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        notification: components["schemas"]["Notification"];
                        by_status: {
                            [key: string]: number;
                        };
                        by_platform: {
                            [key: string]: {
                                [key: string]: number;
                            };
                        };
                        deliveries: components["schemas"]["Delivery"][];
                        next_cursor: string | null;
                    };
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listDeadLetters: {
        parameters: {
            query?: {
                /** @description Page size (1-200) */
                limit?: number;
                /** @description next_cursor of the previous page */
                cursor?: string;
                notification_id?: string;
                error_code?: string;
                platform?: "ios" | "android" | "web";
                /** @description failed_at at or after this time */
                failed_from?: string;
                /** @description failed_at before this time */
                failed_to?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["DeadLetter"][];
                        next_cursor: string | null;
                    };
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getDeadLetter: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["DeadLetter"];
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    requeueDeadLetters: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "ids": [
                 *         "1042"
                 *       ]
                 *     }
                 */
                "application/json": {
                    ids?: string[];
                    /** Format: uuid */
                    notification_id?: string;
                    /** @description every dead letter matching these filters */
                    all?: {
                        /** Format: uuid */
                        notification_id?: string;
                        /** @example UNAVAILABLE */
                        error_code?: string;
                        /** @enum {string} */
                        platform?: "ios" | "android" | "web";
                        /**
                         * Format: date-time
                         * @description failed_at at or after this time
                         * @example 2026-12-01T09:00:00Z
                         */
                        failed_from?: string;
                        /**
                         * Format: date-time
                         * @description failed_at before this time
                         * @example 2026-12-01T09:00:00Z
                         */
                        failed_to?: string;
                    };
                };
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["RequeueResult"];
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    discardDeadLetters: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "notification_id": "0193e1b4-2b3c-7d4e-8f50-61a2b3c4d5e6"
                 *     }
                 */
                "application/json": {
                    ids?: string[];
                    /** Format: uuid */
                    notification_id?: string;
                };
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["DiscardResult"];
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    scheduleNotification: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes retries safe: the first response to a key is replayed, nothing is scheduled twice */
                "idempotency-key"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "name": "weekday-digest",
                 *       "topic": "sports.football",
                 *       "title": "Your morning football digest",
                 *       "body": "Results, fixtures and transfer news from last night.",
                 *       "recurrence": "cron",
                 *       "cron": "0 7 * * MON-FRI",
                 *       "timezone": "Africa/Dar_es_Salaam"
                 *     }
                 */
                "application/json": {
                    /** @example +255712345678 */
                    phone_number?: string;
                    /** Format: uuid */
                    profile_id?: string;
                    external_id?: string;
                    device_ids?: string[];
                    /** @description Every active device subscribed to this topic (by name) */
                    topic?: string;
                    /**
                     * @description Every active device of the tenant (narrow it with filters)
                     * @enum {boolean}
                     */
                    all_devices?: true;
                    /** @example Order Confirmed */
                    title?: string;
                    /** @example Your order #1234 has been confirmed. */
                    body?: string;
                    /**
                     * @description Custom key/value pairs delivered to the app (values are strings, as FCM requires)
                     * @example {
                     *       "order_id": "1234",
                     *       "screen": "order_details"
                     *     }
                     */
                    data?: {
                        [key: string]: string;
                    };
                    /**
                     * @description high (default): delivered immediately, may wake the device; normal: may be batched
                     * @enum {string}
                     */
                    priority?: "high" | "normal";
                    /** @description How long FCM keeps the message for an offline device (max 28 days) */
                    ttl_seconds?: number;
                    /**
                     * Format: uri
                     * @example https://example.com/image.png
                     */
                    image_url?: string;
                    /**
                     * @description Groups messages: android collapse_key, apns-collapse-id, web push Topic
                     * @example order_updates
                     */
                    collapse_key?: string;
                    /** @description Data-only (background) push: no visible notification */
                    silent?: boolean;
                    sound?: string;
                    badge?: number;
                    android_channel_id?: string;
                    /** @description Android intent action on tap; the APNs category on iOS */
                    click_action?: string;
                    /**
                     * Format: uri
                     * @description Deep link / URL opened on tap (web push fcm_options.link; passed to apps as data)
                     */
                    link?: string;
                    /** @description Action buttons: web push notification.actions; on Android and iOS passed to the app as data (fcms_actions, JSON) because FCM has no cross-platform action field */
                    actions?: {
                        id: string;
                        title: string;
                        /** Format: uri */
                        link?: string;
                        /** Format: uri */
                        icon?: string;
                    }[];
                    analytics_label?: string;
                    /** @description Raw FCM v1 android / apns / webpush fields merged over the rendered message */
                    platform_overrides?: {
                        android?: {
                            [key: string]: unknown;
                        };
                        apns?: {
                            [key: string]: unknown;
                        };
                        webpush?: {
                            [key: string]: unknown;
                        };
                    };
                    /**
                     * Format: uuid
                     * @description Send through this Firebase project instead of the default
                     */
                    firebase_project_id?: string;
                    /** @description Template name or id; explicit content fields override the template */
                    template?: string;
                    /**
                     * @description Values for the template's {{variables}}
                     * @example {
                     *       "name": "John"
                     *     }
                     */
                    variables?: {
                        [key: string]: string;
                    };
                    filters?: components["schemas"]["SegmentFiltersInput"];
                    /**
                     * Format: date-time
                     * @description The first occurrence, ISO 8601 with an offset; must not be in the past. Required unless recurrence is cron, which then starts now
                     * @example 2026-12-01T09:00:00+03:00
                     */
                    scheduled_at?: string;
                    /**
                     * @description none: once. daily, weekly, monthly: at the wall-clock time of scheduled_at in timezone (monthly on the same day, the last day in shorter months). cron: the cron expression
                     * @default none
                     * @enum {string}
                     */
                    recurrence?: "none" | "daily" | "weekly" | "monthly" | "cron";
                    /**
                     * @description 5 fields (minute hour day month weekday), or 6 with seconds first, read in timezone
                     * @example 0 9 * * MON-FRI
                     */
                    cron?: string;
                    /**
                     * @description IANA time zone of the wall-clock times
                     * @default UTC
                     * @example Africa/Dar_es_Salaam
                     */
                    timezone?: string;
                    /** @description Stop after this many notifications */
                    max_occurrences?: number;
                    /**
                     * Format: date-time
                     * @description No occurrence after this instant
                     * @example 2026-12-01T09:00:00Z
                     */
                    ends_at?: string;
                    /**
                     * @description Occurrences more than SCHEDULER_MISFIRE_GRACE_MS late (server down, schedule paused) were missed. catch_up: fire each of them; fire_once: fire one for them all (none if an on-time one fires); skip: fire none
                     * @default fire_once
                     * @enum {string}
                     */
                    misfire_policy?: "catch_up" | "fire_once" | "skip";
                    name?: string;
                };
            };
        };
        responses: {
            /** @description Default Response */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Schedule"];
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listSchedules: {
        parameters: {
            query?: {
                /** @description Page size (1-200) */
                limit?: number;
                /** @description next_cursor of the previous page */
                cursor?: string;
                status?: "active" | "paused" | "completed" | "cancelled";
                recurrence?: "none" | "daily" | "weekly" | "monthly" | "cron";
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["Schedule"][];
                        next_cursor: string | null;
                    };
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getSchedule: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Schedule"];
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    pauseSchedule: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Schedule"];
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    resumeSchedule: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Schedule"];
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    cancelSchedule: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Schedule"];
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    recordReceipt: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "delivery_id": "1051",
                 *       "receipt_token": "k3J9fQ2xLmP0aZ7wYv5tRb1c",
                 *       "status": "read"
                 *     }
                 */
                "application/json": {
                    delivery_id: string;
                    receipt_token: string;
                    /** @enum {string} */
                    status: "delivered" | "read";
                };
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        delivery_id: string;
                        status: string;
                    };
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listTemplates: {
        parameters: {
            query?: {
                /** @description Page size (1-200) */
                limit?: number;
                /** @description next_cursor of the previous page */
                cursor?: string;
                /** @description Only active (true) or inactive (false) ones */
                active?: "true" | "false";
                name_prefix?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["Template"][];
                        next_cursor: string | null;
                    };
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    createTemplate: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** @description Placeholders are {{name}} (a letter or _, then A-Z a-z 0-9 _ . -); values are inserted as they are. A template needs a title or a body unless options.silent is true. */
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "name": "order_confirmed",
                 *       "description": "Sent when an order is paid",
                 *       "title": "Order {{order_id}} confirmed",
                 *       "body": "Hi {{name}}, your order #{{order_id}} has been confirmed.",
                 *       "data": {
                 *         "order_id": "{{order_id}}",
                 *         "screen": "order_details"
                 *       },
                 *       "options": {
                 *         "priority": "high",
                 *         "collapse_key": "orders"
                 *       },
                 *       "locales": {
                 *         "fr": {
                 *           "title": "Commande {{order_id}} confirmée",
                 *           "body": "Bonjour {{name}} !"
                 *         }
                 *       }
                 *     }
                 */
                "application/json": {
                    /** @example order_confirmed */
                    name: string;
                    description?: string;
                    /** @example Order Confirmed */
                    title?: string;
                    /** @example Your order #1234 has been confirmed. */
                    body?: string;
                    /**
                     * @description Key/value pairs delivered to the app; values are strings and may hold placeholders
                     * @example {
                     *       "order_id": "{{order_id}}",
                     *       "screen": "order_details"
                     *     }
                     */
                    data?: {
                        [key: string]: string;
                    };
                    /** @description The other content fields of a send, as in POST /notify (not templated) */
                    options?: {
                        /**
                         * Format: uri
                         * @example https://example.com/image.png
                         */
                        image_url?: string;
                        sound?: string;
                        badge?: number;
                        /** @enum {string} */
                        priority?: "high" | "normal";
                        /** @description How long FCM keeps the message for an offline device (max 28 days) */
                        ttl_seconds?: number;
                        /**
                         * @description Groups messages: android collapse_key, apns-collapse-id, web push Topic
                         * @example order_updates
                         */
                        collapse_key?: string;
                        android_channel_id?: string;
                        /** @description Android intent action on tap; the APNs category on iOS */
                        click_action?: string;
                        /**
                         * Format: uri
                         * @description Deep link / URL opened on tap (web push fcm_options.link; passed to apps as data)
                         */
                        link?: string;
                        analytics_label?: string;
                        /** @description Data-only (background) push: no visible notification */
                        silent?: boolean;
                    };
                    /**
                     * @description Raw FCM v1 android / apns / webpush blocks merged into the message; placeholders in their strings are filled in
                     * @example {
                     *       "android": {
                     *         "notification": {
                     *           "tag": "order-{{order_id}}"
                     *         }
                     *       }
                     *     }
                     */
                    platform_overrides?: {
                        android?: {
                            [key: string]: unknown;
                        };
                        apns?: {
                            [key: string]: unknown;
                        };
                        webpush?: {
                            [key: string]: unknown;
                        };
                    };
                    /**
                     * @description Variants by device locale (at most 50; keys like fr, pt-BR or zh_Hant): each replaces the title and body it sets and merges its data over the default
                     * @example {
                     *       "fr": {
                     *         "title": "Commande {{order_id}} confirmée"
                     *       }
                     *     }
                     */
                    locales?: {
                        [key: string]: {
                            /** @example Order Confirmed */
                            title?: string;
                            /** @example Your order #1234 has been confirmed. */
                            body?: string;
                            /**
                             * @description Key/value pairs delivered to the app; values are strings and may hold placeholders
                             * @example {
                             *       "order_id": "{{order_id}}",
                             *       "screen": "order_details"
                             *     }
                             */
                            data?: {
                                [key: string]: string;
                            };
                        };
                    };
                    /**
                     * @description Inactive templates cannot be sent with
                     * @default true
                     */
                    is_active?: boolean;
                };
            };
        };
        responses: {
            /** @description Default Response */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Template"];
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getTemplate: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Template"];
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    updateTemplate: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        /** @description Placeholders are {{name}} (a letter or _, then A-Z a-z 0-9 _ . -); values are inserted as they are. A template needs a title or a body unless options.silent is true. */
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "name": "order_confirmed",
                 *       "description": "Sent when an order is paid",
                 *       "title": "Order {{order_id}} confirmed",
                 *       "body": "Hi {{name}}, your order #{{order_id}} has been confirmed.",
                 *       "data": {
                 *         "order_id": "{{order_id}}",
                 *         "screen": "order_details"
                 *       },
                 *       "options": {
                 *         "priority": "high",
                 *         "collapse_key": "orders"
                 *       },
                 *       "locales": {
                 *         "fr": {
                 *           "title": "Commande {{order_id}} confirmée",
                 *           "body": "Bonjour {{name}} !"
                 *         }
                 *       }
                 *     }
                 */
                "application/json": {
                    /** @example order_confirmed */
                    name: string;
                    description?: string;
                    /** @example Order Confirmed */
                    title?: string;
                    /** @example Your order #1234 has been confirmed. */
                    body?: string;
                    /**
                     * @description Key/value pairs delivered to the app; values are strings and may hold placeholders
                     * @example {
                     *       "order_id": "{{order_id}}",
                     *       "screen": "order_details"
                     *     }
                     */
                    data?: {
                        [key: string]: string;
                    };
                    /** @description The other content fields of a send, as in POST /notify (not templated) */
                    options?: {
                        /**
                         * Format: uri
                         * @example https://example.com/image.png
                         */
                        image_url?: string;
                        sound?: string;
                        badge?: number;
                        /** @enum {string} */
                        priority?: "high" | "normal";
                        /** @description How long FCM keeps the message for an offline device (max 28 days) */
                        ttl_seconds?: number;
                        /**
                         * @description Groups messages: android collapse_key, apns-collapse-id, web push Topic
                         * @example order_updates
                         */
                        collapse_key?: string;
                        android_channel_id?: string;
                        /** @description Android intent action on tap; the APNs category on iOS */
                        click_action?: string;
                        /**
                         * Format: uri
                         * @description Deep link / URL opened on tap (web push fcm_options.link; passed to apps as data)
                         */
                        link?: string;
                        analytics_label?: string;
                        /** @description Data-only (background) push: no visible notification */
                        silent?: boolean;
                    };
                    /**
                     * @description Raw FCM v1 android / apns / webpush blocks merged into the message; placeholders in their strings are filled in
                     * @example {
                     *       "android": {
                     *         "notification": {
                     *           "tag": "order-{{order_id}}"
                     *         }
                     *       }
                     *     }
                     */
                    platform_overrides?: {
                        android?: {
                            [key: string]: unknown;
                        };
                        apns?: {
                            [key: string]: unknown;
                        };
                        webpush?: {
                            [key: string]: unknown;
                        };
                    };
                    /**
                     * @description Variants by device locale (at most 50; keys like fr, pt-BR or zh_Hant): each replaces the title and body it sets and merges its data over the default
                     * @example {
                     *       "fr": {
                     *         "title": "Commande {{order_id}} confirmée"
                     *       }
                     *     }
                     */
                    locales?: {
                        [key: string]: {
                            /** @example Order Confirmed */
                            title?: string;
                            /** @example Your order #1234 has been confirmed. */
                            body?: string;
                            /**
                             * @description Key/value pairs delivered to the app; values are strings and may hold placeholders
                             * @example {
                             *       "order_id": "{{order_id}}",
                             *       "screen": "order_details"
                             *     }
                             */
                            data?: {
                                [key: string]: string;
                            };
                        };
                    };
                    /**
                     * @description Inactive templates cannot be sent with
                     * @default true
                     */
                    is_active?: boolean;
                };
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Template"];
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    deleteTemplate: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    previewTemplate: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The template id or name, as a send names it */
                id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "variables": {
                 *         "order_id": "1234",
                 *         "name": "Asha"
                 *       },
                 *       "locale": "fr-CA"
                 *     }
                 */
                "application/json": {
                    /**
                     * @default {}
                     * @example {
                     *       "order_id": "1234",
                     *       "name": "Ada"
                     *     }
                     */
                    variables?: {
                        [key: string]: string;
                    };
                    /**
                     * @description A device locale: exact variant, else its language, else the default
                     * @example fr-CA
                     */
                    locale?: string;
                };
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        rendered: components["schemas"]["RenderedTemplate"];
                    };
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getAnalytics: {
        parameters: {
            query?: {
                /** @description First day (UTC), inclusive. Default: 6 days before `to` */
                from?: string;
                /** @description Last day (UTC), inclusive. Default: today. At most 366 days from `from` */
                to?: string;
                /** @description Only sends to this topic */
                topic_id?: string;
                /** @description Only deliveries to this platform */
                platform?: "ios" | "android" | "web";
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AnalyticsOverview"];
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getDailyAnalytics: {
        parameters: {
            query?: {
                /** @description First day (UTC), inclusive. Default: 6 days before `to` */
                from?: string;
                /** @description Last day (UTC), inclusive. Default: today. At most 366 days from `from` */
                to?: string;
                /** @description Only sends to this topic */
                topic_id?: string;
                /** @description Only deliveries to this platform */
                platform?: "ios" | "android" | "web";
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AnalyticsSeries"];
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getWeeklyAnalytics: {
        parameters: {
            query?: {
                /** @description First day (UTC), inclusive. Default: 6 days before `to` */
                from?: string;
                /** @description Last day (UTC), inclusive. Default: today. At most 366 days from `from` */
                to?: string;
                /** @description Only sends to this topic */
                topic_id?: string;
                /** @description Only deliveries to this platform */
                platform?: "ios" | "android" | "web";
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AnalyticsSeries"];
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getMonthlyAnalytics: {
        parameters: {
            query?: {
                /** @description First day (UTC), inclusive. Default: 6 days before `to` */
                from?: string;
                /** @description Last day (UTC), inclusive. Default: today. At most 366 days from `from` */
                to?: string;
                /** @description Only sends to this topic */
                topic_id?: string;
                /** @description Only deliveries to this platform */
                platform?: "ios" | "android" | "web";
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AnalyticsSeries"];
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listWebhooks: {
        parameters: {
            query?: {
                /** @description Page size (1-200) */
                limit?: number;
                /** @description next_cursor of the previous page */
                cursor?: string;
                /** @description Only active (true) or disabled (false) ones */
                active?: "true" | "false";
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["Webhook"][];
                        next_cursor: string | null;
                    };
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    createWebhook: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "url": "https://api.example.com/hooks/fcm",
                 *       "description": "Delivery reports for the order service",
                 *       "event_types": [
                 *         "notification.failed",
                 *         "notification.read"
                 *       ]
                 *     }
                 */
                "application/json": {
                    /**
                     * Format: uri
                     * @description Where events are POSTed: https:// (http:// only where the server allows it), a public host
                     * @example https://api.example.com/hooks/fcm
                     */
                    url: string;
                    description?: string;
                    /**
                     * @description Event types to receive; empty or absent: all of them
                     * @example [
                     *       "notification.failed",
                     *       "notification.read"
                     *     ]
                     */
                    event_types?: ("notification.sent" | "notification.failed" | "notification.delivered" | "notification.read" | "notification.completed" | "device.registered" | "device.deactivated" | "webhook.disabled" | "webhook.test")[];
                };
            };
        };
        responses: {
            /** @description Default Response */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WebhookWithSecret"];
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getWebhook: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Webhook"];
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    updateWebhook: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "event_types": [],
                 *       "is_active": true
                 *     }
                 */
                "application/json": {
                    /**
                     * Format: uri
                     * @description Where events are POSTed: https:// (http:// only where the server allows it), a public host
                     * @example https://api.example.com/hooks/fcm
                     */
                    url?: string;
                    description?: string | null;
                    /**
                     * @description Event types to receive; empty or absent: all of them
                     * @example [
                     *       "notification.failed",
                     *       "notification.read"
                     *     ]
                     */
                    event_types?: ("notification.sent" | "notification.failed" | "notification.delivered" | "notification.read" | "notification.completed" | "device.registered" | "device.deactivated" | "webhook.disabled" | "webhook.test")[];
                    is_active?: boolean;
                };
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Webhook"];
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    deleteWebhook: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    rotateWebhookSecret: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "grace_seconds": 3600
                 *     }
                 */
                "application/json": {
                    /**
                     * @description How long the old secret keeps signing (0 to 604800, default 86400)
                     * @example 3600
                     */
                    grace_seconds?: number;
                } | null;
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WebhookWithSecret"];
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    testWebhook: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        event_id: string;
                        /** Format: uuid */
                        webhook_id: string;
                    };
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listWebhookDeliveries: {
        parameters: {
            query?: {
                /** @description Page size (1-200) */
                limit?: number;
                /** @description next_cursor of the previous page */
                cursor?: string;
                status?: "succeeded" | "failed" | "exhausted";
            };
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["WebhookAttempt"][];
                        next_cursor: string | null;
                    };
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    streamEvents: {
        parameters: {
            query?: {
                /** @description Comma-separated event types to receive (default: all) */
                types?: string;
                /** @description Only the events of this notification */
                notification_id?: string;
                /** @description Resume after this event id (replays what was missed) */
                after?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Switching Protocols: the events follow as WebSocket messages */
            101: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            426: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listClients: {
        parameters: {
            query?: {
                /** @description Page size (1-200) */
                limit?: number;
                /** @description next_cursor of the previous page */
                cursor?: string;
                active?: "true" | "false";
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["ApiClient"][];
                        next_cursor: string | null;
                    };
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    createClient: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "name": "shop-backend",
                 *       "scopes": [
                 *         "send",
                 *         "read"
                 *       ],
                 *       "ip_allowlist": [
                 *         "203.0.113.0/24"
                 *       ],
                 *       "rate_limits": {
                 *         "send": 500
                 *       }
                 *     }
                 */
                "application/json": {
                    name: string;
                    /** @description admin opens only the /admin API; grant send, read, manage as needed */
                    scopes?: ("send" | "read" | "manage" | "admin")[];
                    /** @description IPv4/IPv6 addresses and CIDR ranges; empty: any address */
                    ip_allowlist?: string[];
                    /** @description Requests per minute per endpoint group, overriding the server defaults */
                    rate_limits?: {
                        [key: string]: number;
                    };
                    /** @description After this the token answers 401 token_expired */
                    expires_at?: string | null;
                };
            };
        };
        responses: {
            /** @description Default Response */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ApiClientWithToken"];
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getClient: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ApiClient"];
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    updateClient: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "scopes": [
                 *         "send",
                 *         "read",
                 *         "manage"
                 *       ],
                 *       "is_active": true
                 *     }
                 */
                "application/json": {
                    name?: string;
                    /** @description admin opens only the /admin API; grant send, read, manage as needed */
                    scopes?: ("send" | "read" | "manage" | "admin")[];
                    /** @description IPv4/IPv6 addresses and CIDR ranges; empty: any address */
                    ip_allowlist?: string[];
                    /** @description Requests per minute per endpoint group, overriding the server defaults */
                    rate_limits?: {
                        [key: string]: number;
                    };
                    /** @description After this the token answers 401 token_expired */
                    expires_at?: string | null;
                    /** @description false: every call answers 401 client_disabled */
                    is_active?: boolean;
                };
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ApiClient"];
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    rotateClientToken: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "grace_seconds": 3600
                 *     }
                 */
                "application/json": {
                    /**
                     * @description How long the old token keeps working (default 86400, 0: stops at once, at most 30 days)
                     * @example 3600
                     */
                    grace_seconds?: number;
                } | null;
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ApiClientWithToken"];
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    revokeClient: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ApiClient"];
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getOwnClient: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ApiClient"];
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    rotateOwnClientToken: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "grace_seconds": 3600
                 *     }
                 */
                "application/json": {
                    /**
                     * @description How long the old token keeps working (default 86400, 0: stops at once, at most 30 days)
                     * @example 3600
                     */
                    grace_seconds?: number;
                } | null;
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ApiClientWithToken"];
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listAllAuditLogs: {
        parameters: {
            query?: {
                /** @description Page size (1-200) */
                limit?: number;
                /** @description next_cursor of the previous page */
                cursor?: string;
                /** @description An action (device.delete) or a prefix ending in * (device.*) */
                action?: string;
                actor_id?: string;
                target_type?: string;
                target_id?: string;
                created_from?: string;
                /** @description Exclusive */
                created_to?: string;
                /** @description The tenant */
                client_id?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["AuditLogEntry"][];
                        next_cursor: string | null;
                    };
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listAuditLogs: {
        parameters: {
            query?: {
                /** @description Page size (1-200) */
                limit?: number;
                /** @description next_cursor of the previous page */
                cursor?: string;
                /** @description An action (device.delete) or a prefix ending in * (device.*) */
                action?: string;
                actor_id?: string;
                target_type?: string;
                target_id?: string;
                created_from?: string;
                /** @description Exclusive */
                created_to?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["AuditLogEntry"][];
                        next_cursor: string | null;
                    };
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listSandboxMessages: {
        parameters: {
            query?: {
                /** @description Page size (1-200) */
                limit?: number;
                /** @description next_cursor of the previous page */
                cursor?: string;
                /** @description Only messages to this device */
                device_id?: string;
                /** @description Only messages of this notification */
                notification_id?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["SandboxMessage"][];
                        next_cursor: string | null;
                    };
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
}
