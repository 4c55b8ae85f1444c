/**
 * Topic subscriptions, per project: what the Admin SDKs change through the Instance ID API
 * (iid.googleapis.com/iid/v1:batchAdd and :batchRemove) and FCM's registrations API, and what a topic or
 * condition message fans out to in the emulator's inbox.
 */
import { conditionMatches } from './message-model.ts';

/**
 * "An app instance can be subscribed to no more than 2000 topics":
 * https://firebase.google.com/docs/cloud-messaging/manage-topics
 */
const MAX_TOPICS_PER_TOKEN = 2000;

export class TopicRegistry {
  /** project → token → topics. */
  readonly #projects = new Map<string, Map<string, Set<string>>>();

  /** Subscribes; false when the token already has the most topics FCM allows. */
  subscribe(projectId: string, token: string, topic: string): boolean {
    const tokens = this.#projects.get(projectId) ?? new Map<string, Set<string>>();
    this.#projects.set(projectId, tokens);
    const topics = tokens.get(token) ?? new Set<string>();
    tokens.set(token, topics);
    if (!topics.has(topic) && topics.size >= MAX_TOPICS_PER_TOKEN) return false;
    topics.add(topic);
    return true;
  }

  /** Unsubscribes; false when the token was not subscribed. */
  unsubscribe(projectId: string, token: string, topic: string): boolean {
    const topics = this.#projects.get(projectId)?.get(token);
    const removed = topics?.delete(topic) ?? false;
    if (topics?.size === 0) this.#projects.get(projectId)!.delete(token);
    return removed;
  }

  /** The tokens a topic or condition message reaches, in subscription order. */
  recipients(projectId: string, target: { kind: 'topic' | 'condition'; value: string }): string[] {
    const topic = target.value.replace(/^\/topics\//, '');
    const reached: string[] = [];
    for (const [token, topics] of this.#projects.get(projectId) ?? []) {
      if (target.kind === 'topic' ? topics.has(topic) : conditionMatches(target.value, topics))
        reached.push(token);
    }
    return reached;
  }

  /** topic → subscribed tokens, for one project or all (keyed `project/topic`). */
  list(projectId?: string): Record<string, string[]> {
    const listed: Record<string, string[]> = {};
    for (const [project, tokens] of this.#projects) {
      if (projectId !== undefined && project !== projectId) continue;
      for (const [token, topics] of tokens) {
        for (const topic of topics) {
          const key = projectId === undefined ? `${project}/${topic}` : topic;
          listed[key] = [...(listed[key] ?? []), token];
        }
      }
    }
    return listed;
  }

  clear(): void {
    this.#projects.clear();
  }
}
