import { type AttrValue, type LogRecord, type Resource, type Scope, Severity, nowUnixNano } from '../../model/index.js';
import type { LifecycleEvent, LifecycleKind } from './metadata-cache.js';

/**
 * Container lifecycle events as OTLP log records on the events signal: `event_name` says what
 * happened, the resource says to which container (and pod), the attributes carry the exit code
 * and reason. A restart and an OOM kill are warnings (something went wrong); an exit is one
 * unless its code is 0.
 */

export const EVENT_NAMES: Readonly<Record<LifecycleKind, string>> = {
  start: 'container.start',
  restart: 'container.restart',
  exit: 'container.exit',
  oom: 'container.oom',
};

/** The exit code of the container's first process (semconv `process.exit.code`). */
export const EXIT_CODE = 'process.exit.code';
/** The runtime's word for why it exited: OOMKilled, Error, Completed… */
export const EXIT_REASON = 'sextant.container.exit.reason';
export const RESTART_COUNT = 'k8s.container.restart_count';

export function lifecycleRecord(e: LifecycleEvent, resource: Resource, scope: Scope): LogRecord {
  const info = e.info;
  const who = info.pod ? `${info.pod.namespace}/${info.pod.name}/${info.name}` : info.name.length > 0 ? info.name : info.id.slice(0, 12);
  const attributes: Record<string, AttrValue> = {};
  let severity: number = Severity.INFO;
  let body: string;
  switch (e.kind) {
    case 'start':
      body = `container ${who} started`;
      break;
    case 'restart':
      severity = Severity.WARN;
      attributes[RESTART_COUNT] = info.restartCount;
      body = `container ${who} restarted (restart ${info.restartCount})`;
      break;
    case 'oom':
      severity = Severity.ERROR;
      body = `container ${who}: a process was killed by the OOM killer`;
      break;
    case 'exit': {
      const code = e.exitCode;
      const reason = info.state === 'exited' ? info.exitReason : undefined;
      if (code !== undefined) attributes[EXIT_CODE] = code;
      if (reason !== undefined && reason.length > 0) attributes[EXIT_REASON] = reason;
      if (code !== 0) severity = Severity.WARN;
      body = `container ${who} exited${code === undefined ? '' : ` with code ${code}`}${reason ? ` (${reason})` : ''}`;
      break;
    }
  }
  return {
    resource,
    scope,
    timeUnixNano: e.timeUnixNano,
    observedTimeUnixNano: nowUnixNano(),
    severityNumber: severity,
    severityText: severityText(severity),
    body,
    attributes: Object.freeze(attributes),
    eventName: EVENT_NAMES[e.kind],
  };
}

function severityText(n: number): string {
  return n === Severity.ERROR ? 'ERROR' : n === Severity.WARN ? 'WARN' : 'INFO';
}
