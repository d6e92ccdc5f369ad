// TopView (top_view.h): ncurses drawing and keys. The only file of the
// client that includes <curses.h>, with its macros off (NCURSES_NOMACROS):
// names like timeout, erase and refresh stay functions and cannot clash
// with the rest of the code.
#include "client/top_view.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

#define NCURSES_NOMACROS
#include <curses.h>

namespace cabildo::client {

namespace {

constexpr std::string_view quit_hint = "q: quit";

// One line at row y, cut at the width, in the given attributes.
void put_line(int y, std::string_view text, attr_t attributes) {
    const int height = getmaxy(stdscr);
    const int width = getmaxx(stdscr);
    if (y < 0 || y >= height || width <= 0)
        return;
    attr_on(attributes, nullptr);
    mvaddnstr(y, 0, text.data(), std::min<int>(width, static_cast<int>(text.size())));
    attr_off(attributes, nullptr);
}

attr_t row_attributes(const TopLine& line) {
    attr_t attributes = A_NORMAL;
    if (line.dim)
        attributes |= A_DIM;
    if (line.bold)
        attributes |= A_BOLD;
    return attributes;
}

}  // namespace

struct TopView::Terminal {
    SCREEN* screen = nullptr;
};

std::unique_ptr<TopView> TopView::open(std::string* error) {
    if (isatty(STDIN_FILENO) == 0 || isatty(STDOUT_FILENO) == 0) {
        *error = "top needs a terminal on stdin and stdout (or use --once)";
        return nullptr;
    }
    // newterm, not initscr: initscr exits the process on a bad $TERM.
    SCREEN* screen = newterm(nullptr, stdout, stdin);
    if (screen == nullptr) {
        *error = "cannot use this terminal (is $TERM set?); try --once";
        return nullptr;
    }
    set_term(screen);
    cbreak();
    noecho();
    nodelay(stdscr, TRUE);
    keypad(stdscr, TRUE);
    curs_set(0);
    auto terminal = std::make_unique<Terminal>();
    terminal->screen = screen;
    return std::unique_ptr<TopView>(new TopView(std::move(terminal)));
}

TopView::TopView(std::unique_ptr<Terminal> terminal) : terminal_(std::move(terminal)) {}

TopView::~TopView() {
    endwin();
    delscreen(terminal_->screen);
}

void TopView::draw(const TopScreen& screen) {
    erase();
    const int width = getmaxx(stdscr);
    put_line(0, screen.title, A_BOLD);
    const int hint_x = width - static_cast<int>(quit_hint.size());
    if (hint_x > static_cast<int>(screen.title.size()) + 2)
        mvaddnstr(0, hint_x, quit_hint.data(), static_cast<int>(quit_hint.size()));
    put_line(2, screen.header, A_REVERSE);
    int y = 3;
    for (const TopLine& line : screen.rows) put_line(y++, line.text, row_attributes(line));
    y += 1;
    put_line(y++, screen.changes_title, A_BOLD);
    const int height = getmaxy(stdscr);
    for (const std::string& change : screen.changes) {
        if (y >= height)
            break;
        put_line(y++, change, A_NORMAL);
    }
    refresh();
}

TopKey TopView::read_keys() {
    TopKey result = TopKey::none;
    for (int key = getch(); key != ERR; key = getch()) {
        if (key == 'q' || key == 'Q')
            return TopKey::quit;
        if (key == KEY_RESIZE || key == 12 /* Ctrl-L */)
            result = TopKey::redraw;
    }
    if (result == TopKey::redraw)
        clearok(stdscr, TRUE);  // repaint everything: the old picture is gone
    return result;
}

int TopView::input_fd() const {
    return STDIN_FILENO;
}

}  // namespace cabildo::client
