import fs from "node:fs";
import path from "node:path";

import { SourceText } from "./source.js";

/** One commit of the series: one concern, its own tests. */
export interface Change {
  /** Edits upstream's sources by name; throws a KitError when a name is gone. */
  apply: (tree: Tree) => void;
  /** Why, with the RFC clause; wrapped at 72 columns. */
  body: string;
  /** `BREAKING CHANGE: …` when a working setup can stop working. */
  breaking?: string;
  /** Conventional commit subject. */
  subject: string;
  /**
   * Test files this commit adds: from the kit's `files/<line>/` folder, or
   * else `files/shared/`, adapted with the line's `adaptSharedTest`.
   */
  tests: string[];
  /** Upstream test files to run at this commit as well (its own checks). */
  upstreamTests?: string[];
}

/** The changes for one release line, and what its pull request says. */
export interface Line {
  /** Fits a test file both lines share (`files/shared/`) to this line. */
  adaptSharedTest?: (text: string) => string;
  changes: Change[];
  /** The pull request's opening: the rule and what the release sends. */
  intro: string;
  /** The line's name, also its folder under files/. */
  name: string;
  /** Markdown table: each 401/403 path, before and after. */
  paths: string;
}

/** The unpacked release, edited file by file in memory. */
export class Tree {
  private readonly open = new Map<string, SourceText>();

  constructor(readonly root: string) {}

  file(relative: string): SourceText {
    let file = this.open.get(relative);

    if (!file) {
      const absolute = path.join(this.root, relative);
      file = new SourceText(relative, fs.readFileSync(absolute, "utf8"));
      this.open.set(relative, file);
    }

    return file;
  }

  /** Writes every edited file back; returns the paths that changed. */
  save(): string[] {
    const changed: string[] = [];

    for (const [relative, file] of this.open) {
      const absolute = path.join(this.root, relative);

      if (fs.readFileSync(absolute, "utf8") !== file.text) {
        fs.writeFileSync(absolute, file.text);
        changed.push(relative);
      }
    }

    this.open.clear();

    return changed;
  }
}
