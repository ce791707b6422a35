"""What a run leaves behind: Allure results and attachments, the matrix, the HTML report, certificates."""
