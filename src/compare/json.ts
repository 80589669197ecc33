/** `ballot compare --json`: one object, stable for the same arguments (no wall-clock times in it). */
import { textbookMessages } from './report.js';
import type { CompareResult } from './run.js';

export function toJson(result: CompareResult, command: string, perTrial: boolean): object {
  return {
    command,
    grid: {
      ...result.grid,
      seeds: { first: 1, last: result.grid.trials },
    },
    runs: result.runs,
    algorithms: result.algorithms,
    cells: result.cells.map((cell) => ({
      ...cell.summary,
      textbookMessages: textbookMessages(cell.summary.algorithm, cell.summary.nodes)?.value ?? null,
      ...(perTrial ? { perTrial: cell.trials } : {}),
    })),
  };
}
