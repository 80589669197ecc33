export { simulate, createRun, type SimRun, type RunSnapshot, type InFlight, type NodeView, type NodeTimer, type SimOptions, type SimResult, type ElectionRecord, type LeaderRecord, type Violation, type FinalStatus, type TimelineEntry, type TimelineKind } from './simulation.js';
export { parseSchedule, ScheduleError, describeAction, actionNames, type Action, type NodeRef } from './schedule.js';
export { scenarioNames, isScenarioName, defaultDurationMs, type ScenarioName } from './scenarios.js';
export { Prng } from '../core/prng.js';
export type { LatencyRange } from './network.js';
