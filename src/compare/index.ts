export { runCompare, runChunk, steadyStateTypes, describeAlgorithm, cellKeys, type CompareGrid, type CompareResult, type Cell, type AlgorithmInfo, type RunOptions } from './run.js';
export { trialMetrics, measuredElections, firstFaultMs, summarizeCell, compareScenarios, type TrialMetrics, type ElectionSample, type CellSummary, type Summary } from './metrics.js';
export { comparisonTables, oddEvenAnswer, textbookMessages, renderText, renderMarkdown, type Table } from './report.js';
export { renderHtml } from './html.js';
export { toJson } from './json.js';
