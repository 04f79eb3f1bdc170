import eslint from "@eslint/js";
import eslintConfigPrettier from "eslint-config-prettier/flat";
import perfectionist from "eslint-plugin-perfectionist";
import tseslint from "typescript-eslint";

export default tseslint.config(
  eslint.configs.recommended,
  tseslint.configs.recommended,
  perfectionist.configs["recommended-alphabetical"],
  eslintConfigPrettier,
  {
    ignores: [
      "**/*.js",
      "**/*.d.ts",
      "dist/**",
      "node_modules/**",
      ".e2e/**",
      ".upstream-tests/**",
      ".upstream-pr/**",
      "upstream-pr/**",
    ],
  },
);
