/**
 * Deployment modes, named after the Dynatrace Operator's DynaKube modes so an SRE who knows one
 * knows the other. A mode only chooses the defaults of the source switches; a switch set in the
 * file, the environment or a flag still wins (and `sextant check` says which won).
 *
 * - fullstack   (classicFullStack):      host, processes, containers, logs.
 * - host        (hostMonitoring):        host and processes only.
 * - application (applicationMonitoring): no node collection; only what applications send. There
 *   is no receiver for that yet, so on its own this mode has nothing to run (the agent exits 2).
 * - cloudnative (cloudNativeFullStack):  fullstack, plus the application receiver once it exists.
 */
export const MODES = ['fullstack', 'host', 'application', 'cloudnative'] as const;
export type Mode = (typeof MODES)[number];

/** The config keys a mode presets, each a boolean source switch. */
export const SOURCE_SWITCHES = ['host.enabled', 'process.enabled', 'containers.enabled', 'logs.enabled'] as const;
export type SourceSwitch = (typeof SOURCE_SWITCHES)[number];

const ALL_ON: Readonly<Record<SourceSwitch, boolean>> = { 'host.enabled': true, 'process.enabled': true, 'containers.enabled': true, 'logs.enabled': true };

export const MODE_PRESETS: Readonly<Record<Mode, Readonly<Record<SourceSwitch, boolean>>>> = {
  fullstack: ALL_ON,
  host: { 'host.enabled': true, 'process.enabled': true, 'containers.enabled': false, 'logs.enabled': false },
  application: { 'host.enabled': false, 'process.enabled': false, 'containers.enabled': false, 'logs.enabled': false },
  cloudnative: ALL_ON,
};

/** Whether the mode includes the application receiver (not built yet: see MODES). */
export function wantsApplicationReceiver(mode: Mode): boolean {
  return mode === 'application' || mode === 'cloudnative';
}
