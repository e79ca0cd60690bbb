/* The size in bytes of what staff type in a box whose limit Chat counts in bytes (data-max-bytes): shown under
   the box as they type, marked when past the limit. Nothing is cut: the form refuses what is too long, and says
   why. The group's name and a UserID show theirs from the start; a conversation row's boxes when typed in. */
'use strict';
{
    const encoder = new TextEncoder();

    function countFor(input) {
        let count = input.nextElementSibling;
        if (!count || !count.classList.contains('byte-count')) {
            count = document.createElement('div');
            count.className = 'help byte-count';
            count.setAttribute('aria-live', 'polite');
            input.after(count);
        }
        return count;
    }

    function show(input) {
        const most = Number(input.dataset.maxBytes);
        const bytes = encoder.encode(input.value).length;
        const count = countFor(input);
        count.textContent = interpolate(ngettext('%(bytes)s of %(most)s byte', '%(bytes)s of %(most)s bytes', most),
                                        {bytes: bytes, most: most}, true);
        count.classList.toggle('over', bytes > most);
    }

    document.addEventListener('input', (event) => {
        if (event.target instanceof HTMLInputElement && event.target.dataset.maxBytes) {
            show(event.target);
        }
    });
    document.addEventListener('DOMContentLoaded', () => {
        for (const input of document.querySelectorAll('input[data-max-bytes]')) {
            if (input.closest('.inline-group') === null) {
                show(input);
            }
        }
    });
}
