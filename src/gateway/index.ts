export { startGateway, type Gateway, type GatewayDeps, type IngestOutcome } from './gateway.js';
export { DEFAULT_GATEWAY_CONFIG, parseListen, validateGatewayConfig, type GatewayConfig, type SecretValue } from './config.js';
