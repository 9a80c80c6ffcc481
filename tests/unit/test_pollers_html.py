"""HTML to text for feed summaries: words kept, markup, scripts and entities gone."""

from trustscope.pollers.htmltext import html_to_text, looks_like_html


def test_tags_removed_blocks_become_lines():
    html = "<p>第一段<b>加粗</b>文字</p><p>第二段</p><ul><li>甲</li><li>乙</li></ul>"
    assert html_to_text(html) == "第一段加粗文字\n第二段\n甲\n乙"


def test_scripts_styles_and_comments_dropped():
    html = "<style>p{color:red}</style><p>正文</p><script>alert('x')</script><!-- 注释 -->结尾"
    assert html_to_text(html) == "正文\n结尾"


def test_entities_decoded_including_double_escaped():
    assert html_to_text("利率 &lt; 24% &amp; 无服务费") == "利率 < 24% & 无服务费"
    assert html_to_text("<p>A&amp;amp;B</p>") == "A&B"
    assert html_to_text("&#x82B1;&#21591;") == "花呗"


def test_br_and_image_alt_text():
    assert html_to_text('第一行<br/>第二行<img src="x.png" alt="截图"/>') == "第一行\n第二行 截图"


def test_plain_text_passes_through_with_whitespace_tidied():
    assert not looks_like_html("借呗 2 < 3 的说法")
    assert html_to_text("  借呗\u3000额度  \n\n\n 降了  ") == "借呗 额度\n降了"
    assert html_to_text(None) == ""
    assert html_to_text("<p> </p>") == ""


def test_broken_markup_does_not_raise():
    assert html_to_text("<p>未闭合<b>标签<div>继续") == "未闭合标签\n继续"
