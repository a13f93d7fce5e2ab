// Runnable listings (blocks with a Run button): editable, and Copy copies the whole program.
//
// A runnable listing is a whole program of which the page shows a part (`main`); the other
// lines are mdBook's hidden "boring" lines (`# ` in the source, `<span class="boring">` in the
// HTML). mdBook 0.5.4's Run button sends the whole text, but its Copy button copies only the
// visible lines, which do not compile alone. And mdBook's own `editable` blocks show every
// hidden line in the editor. So this script, which runs after mdBook's book.js:
// - turns each runnable block into an ACE editor (the playground editor mdBook already loads)
//   holding the whole program, with each run of hidden lines folded under a one-line
//   placeholder; the eye button unfolds and folds them, the undo button restores the original;
// - gives the block mdBook's `editable` class, so that mdBook's Run and Copy both read the
//   editor's whole text: hidden lines included, edits included;
// - without ACE, still makes Copy on a runnable block copy the whole text.
// `cargo xtask check-browser` clicks Copy and compiles what lands on the clipboard, edits each
// listing and checks that Run sends the edit together with the hidden lines.
(function runnableListings() {
    'use strict';

    // Copy (book.js calls `playground_text(pre, false)`): the whole program for runnable blocks.
    if (typeof window.playground_text === 'function') {
        const visibleOrWhole = window.playground_text;
        window.playground_text = function(block, hidden = true) {
            const whole = block.classList.contains('playground');
            return visibleOrWhole(block, whole ? true : hidden);
        };
    }

    if (!window.ace) {
        return;
    }
    const Range = window.ace.require('ace/range').Range;
    const aceTheme = () => {
        const dark = ['coal', 'navy', 'ayu'].some(t => document.documentElement.classList.contains(t));
        return dark ? 'ace/theme/tomorrow_night' : 'ace/theme/dawn';
    };

    // [first row, last row] of each run of hidden lines, from the `.boring` spans.
    function hiddenRuns(code) {
        const runs = [];
        let row = 0;
        const walker = document.createTreeWalker(code, NodeFilter.SHOW_TEXT);
        for (let node = walker.nextNode(); node; node = walker.nextNode()) {
            const hidden = node.parentElement.closest('.boring') !== null;
            const lines = node.data.split('\n');
            lines.forEach((piece, i) => {
                if (i > 0) {
                    row += 1;
                }
                if (hidden && (piece.length > 0 || i < lines.length - 1)) {
                    const last = runs[runs.length - 1];
                    if (last && last[1] >= row - 1) {
                        last[1] = row;
                    } else {
                        runs.push([row, row]);
                    }
                }
            });
        }
        return runs;
    }

    // Anchors at the start and end of each hidden run: ACE moves them along with edits.
    function anchorRuns(editor, runs) {
        const session = editor.getSession();
        return runs.map(([first, last]) => [
            session.getDocument().createAnchor(first, 0),
            session.getDocument().createAnchor(last, session.getLine(last).length),
        ]);
    }

    function fold(editor, anchors) {
        const session = editor.getSession();
        session.unfold();
        for (const [start, end] of anchors) {
            const first = start.getPosition().row;
            const last = end.getPosition().row;
            if (last < first) {
                continue;
            }
            const n = last - first + 1;
            const what = `${n} hidden line${n === 1 ? '' : 's'}`;
            session.addFold(`/* ... ${what} (the eye button shows them) ... */`,
                new Range(first, 0, last, session.getLine(last).length));
        }
    }

    Array.from(document.querySelectorAll('pre.playground')).forEach(function(pre) {
        const code = pre.querySelector('code');
        if (!code || code.classList.contains('editable')) {
            return;
        }
        const runs = hiddenRuns(code);
        code.textContent = code.textContent;
        code.classList.remove('hide-boring', 'language-rust');
        code.classList.add('editable');
        const editor = window.ace.edit(code);
        editor.setOptions({
            highlightActiveLine: false,
            showPrintMargin: false,
            showLineNumbers: false,
            showGutter: false,
            maxLines: Infinity,
            fontSize: '0.875em',
        });
        editor.$blockScrolling = Infinity;
        editor.getSession().setMode('ace/mode/rust');
        // ACE measures the first row of a fold at the full length of its hidden line, so a
        // long hidden line would make the editor scroll sideways: measure what is shown.
        editor.getSession().getScreenWidth = function() {
            let most = 0;
            for (let row = 0; row < this.getLength(); row++) {
                const foldLine = this.getFoldLine(row);
                if (foldLine) {
                    most = Math.max(most, this.getFoldDisplayLine(foldLine).length);
                    row = foldLine.end.row;
                } else {
                    most = Math.max(most, this.getLine(row).length);
                }
            }
            return most;
        };
        editor.setTheme(aceTheme());
        editor.originalCode = editor.getValue();
        let anchors = anchorRuns(editor, runs);
        fold(editor, anchors);
        editor.clearSelection();
        window.editors = window.editors || [];
        window.editors.push(editor);

        let buttons = pre.querySelector('.buttons');
        if (!buttons) {
            buttons = document.createElement('div');
            buttons.className = 'buttons';
            pre.insertBefore(buttons, pre.firstChild);
        }
        // book.js's eye button toggled CSS classes of the <code> that ACE has replaced.
        const oldEye = buttons.querySelector('button[title="Show hidden lines"]');
        let eye = null;
        const setEye = (shown) => {
            eye.title = shown ? 'Hide lines' : 'Show hidden lines';
            eye.setAttribute('aria-label', eye.title);
            eye.innerHTML = document.getElementById(shown ? 'fa-eye-slash' : 'fa-eye').innerHTML;
        };
        if (oldEye && runs.length > 0) {
            eye = oldEye.cloneNode(true);
            oldEye.replaceWith(eye);
            eye.addEventListener('click', function() {
                const show = eye.title === 'Show hidden lines';
                if (show) {
                    editor.getSession().unfold();
                } else {
                    fold(editor, anchors);
                }
                setEye(show);
            });
        } else if (oldEye) {
            oldEye.remove();
        }
        const undo = document.createElement('button');
        undo.className = 'reset-button';
        undo.title = 'Undo changes';
        undo.setAttribute('aria-label', undo.title);
        const icon = document.getElementById('fa-clock-rotate-left');
        if (icon) {
            undo.innerHTML = icon.innerHTML;
        }
        undo.addEventListener('click', function() {
            editor.setValue(editor.originalCode);
            editor.clearSelection();
            anchors.forEach(pair => pair.forEach(anchor => anchor.detach()));
            anchors = anchorRuns(editor, runs);
            fold(editor, anchors);
            if (eye) {
                setEye(false);
            }
        });
        buttons.insertBefore(undo, buttons.firstChild);
    });
})();
