/**
 * Deployment modes, named after the Dynatrace Operator's DynaKube modes so an SRE who knows one
 * knows the other. A mode only chooses the defaults of the switches below; a switch set in the
 * file, the environment or a flag still wins (and `sextant check` says which won).
 *
 * - fullstack   (classicFullStack):      host, processes, containers, logs.
 * - host        (hostMonitoring):        host and processes only.
 * - application (applicationMonitoring): no node collection and no host access; the OTLP receiver
 *   for what applications on the node send (src/receiver/).
 * - cloudnative (cloudNativeFullStack):  fullstack plus the receiver.
 */
export const MODES = ['fullstack', 'host', 'application', 'cloudnative'] as const;
export type Mode = (typeof MODES)[number];

/** The config keys of the node sources a mode presets, each a boolean switch. */
export const SOURCE_SWITCHES = ['host.enabled', 'process.enabled', 'containers.enabled', 'logs.enabled'] as const;
/** Every switch a mode presets: the sources and the application receiver. */
export const MODE_SWITCHES = [...SOURCE_SWITCHES, 'receiver.enabled'] as const;
export type ModeSwitch = (typeof MODE_SWITCHES)[number];

const NODE_SOURCES = { 'host.enabled': true, 'process.enabled': true, 'containers.enabled': true, 'logs.enabled': true } as const;

export const MODE_PRESETS: Readonly<Record<Mode, Readonly<Record<ModeSwitch, boolean>>>> = {
  fullstack: { ...NODE_SOURCES, 'receiver.enabled': false },
  host: { 'host.enabled': true, 'process.enabled': true, 'containers.enabled': false, 'logs.enabled': false, 'receiver.enabled': false },
  application: { 'host.enabled': false, 'process.enabled': false, 'containers.enabled': false, 'logs.enabled': false, 'receiver.enabled': true },
  cloudnative: { ...NODE_SOURCES, 'receiver.enabled': true },
};
