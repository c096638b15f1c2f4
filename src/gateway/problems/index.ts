export { ProblemEngine, type EvaluationReport, type ProblemEngineDeps, type ProblemEngineStore } from './engine.js';
export { DEFAULT_PROBLEMS_CONFIG, validateProblemsConfig, type ProblemsConfig } from './config.js';
export { GATEWAY_PROBLEM_KEYS } from './keys.js';
export { getProblem, listProblems } from './problem-table.js';
export { problemJson, type Problem } from './problem.js';
