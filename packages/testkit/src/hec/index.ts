// Public surface of the Splunk HEC-compatible receiver. Generic names carry a Hec prefix so this
// module can share the package index with other test tools.
export { AckStore as HecAckStore } from './acks.js';
export {
  HEC_STATUS,
  HecCode,
  type HecCodeNumber,
  type HecReply,
  type HecResponseBody,
  hecReply,
} from './codes.js';
export {
  type FaultCommon as HecFaultCommon,
  type FaultHandle as HecFaultHandle,
  type FaultKind as HecFaultKind,
  type FaultPhase as HecFaultPhase,
  FaultRegistry as HecFaultRegistry,
  type FaultSpec as HecFaultSpec,
  type HecEndpoint,
} from './faults.js';
export {
  fieldsAreValid as hecFieldsAreValid,
  isValidChannel as isValidHecChannel,
  splitConcatenatedJson as splitHecBatch,
  splitRawLines as splitHecRawLines,
  validateEventObject as validateHecEvent,
} from './parse.js';
export {
  type HecEvent,
  type HecReceiver,
  type HecReceiverOptions,
  type HecRequestStats,
  type HecTokenConfig,
  startHecReceiver,
} from './receiver.js';
