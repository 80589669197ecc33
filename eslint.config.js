// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['src/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
      'no-restricted-globals': 'off',
    },
  },
  {
    // The core is pure (DESIGN.md): no clock, no timers, no ambient randomness, no process. So is the
    // linearizability checker (src/check) and the key-value state machine (src/kv): time limits and progress come in as callbacks.
    files: ['src/core/**/*.ts', 'src/check/**/*.ts', 'src/kv/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-properties': [
        'error',
        { object: 'Math', property: 'random', message: 'core randomness is injected (Random)' },
        { object: 'Date', property: 'now', message: 'core time is handed in (now)' },
        { object: 'performance', property: 'now', message: 'core time is handed in (now)' },
      ],
      'no-restricted-globals': ['error', 'setTimeout', 'setInterval', 'setImmediate', 'process', 'console'],
      'no-restricted-imports': ['error', { patterns: ['node:*', '../../*', '../sim/*', '../runtime/*', '../cli/*', '../ui/*', '../bench/*', '../compare/*'] }],
    },
  },
);
