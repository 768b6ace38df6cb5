// ESLint flat config. Type-aware rules are left out on purpose: they would roughly double lint
// time on this 2-core machine, and `npm run typecheck` already runs the compiler.
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import tseslint from 'typescript-eslint';

export default defineConfig(
  globalIgnores(['dist/', 'node_modules/', 'native/', 'coverage/', '.gpu/']),
  js.configs.recommended,
  tseslint.configs.strict,
  {
    files: ['src/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
    },
  },
);
